//! The runbook picker, the confirmation dialog (plan and blast radius),
//! the progress pane and the audit view. All are dialogs over the view.

use opsdeck_runbooks::record::StepResult;
use opsdeck_runbooks::{ActionRecord, ActionStatus, Risk};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::format::{age_ms, truncate};
use super::theme::Theme;
use super::{centered, panel};
use crate::app::runbook::{
    AuditPane, ConfirmButton, ConfirmDialog, ProgressPane, RunbookFlow, Stage,
};
use crate::client::actions::PlanView;
use crate::fleet::FleetState;

/// Dialogs take most of the screen, up to this size.
const MAX_WIDTH: u16 = 100;
const MAX_HEIGHT: u16 = 32;

/// The width inside a dialog's borders, for cutting lines to fit.
fn inner_width(frame: &Frame) -> usize {
    MAX_WIDTH
        .min(frame.area().width.saturating_sub(2))
        .saturating_sub(2) as usize
}

/// Draws a dialog as tall as its lines (within the screen), centered.
fn show(frame: &mut Frame, title: String, lines: Vec<Line>, theme: &Theme) {
    let screen = frame.area();
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let area: Rect = centered(
        screen,
        MAX_WIDTH.min(screen.width.saturating_sub(2)),
        height.min(MAX_HEIGHT).min(screen.height.saturating_sub(2)),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(panel(title, theme))
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn risk_style(risk: Risk, theme: &Theme) -> Style {
    match risk {
        Risk::Safe => theme.good,
        Risk::Disruptive => theme.warn,
        Risk::Destructive => theme.critical,
    }
}

pub fn draw_flow(frame: &mut Frame, flow: &RunbookFlow, theme: &Theme) {
    let width = inner_width(frame);
    let mut lines = match &flow.stage {
        Stage::Loading => vec![Line::styled(" loading runbooks…", theme.muted)],
        Stage::Picker => picker_lines(flow, width, theme),
        Stage::Planning(choice) => vec![Line::styled(
            format!(" dry run of {}…", choice.id),
            theme.muted,
        )],
        Stage::Confirm(dialog) => confirm_lines(dialog, width, theme),
        Stage::Starting => vec![Line::styled(" starting…", theme.muted)],
    };
    if let Some(error) = &flow.error {
        lines.push(Line::styled(
            format!(" {}", truncate(error, width)),
            theme.bad,
        ));
    }
    show(frame, flow.title(), lines, theme);
}

fn picker_lines(flow: &RunbookFlow, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        " ★ = named by a firing alert · j/k: move · enter: dry run · esc: close",
        theme.muted,
    )];
    for (i, choice) in flow.choices.iter().enumerate() {
        let style = if i == flow.selected {
            theme.selected
        } else {
            theme.text
        };
        let mark = if choice.suggested_by.is_some() {
            "★"
        } else {
            " "
        };
        let because = choice
            .suggested_by
            .as_deref()
            .map_or_else(String::new, |alert| format!("  ({alert})"));
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} {:<22} ", choice.id), style),
            Span::styled(
                format!("{:<12}", choice.risk.as_str()),
                risk_style(choice.risk, theme),
            ),
            Span::styled(
                truncate(
                    &format!("{}{because}", choice.title),
                    width.saturating_sub(38),
                ),
                style,
            ),
        ]));
    }
    lines
}

fn confirm_lines(dialog: &ConfirmDialog, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let plan = &dialog.plan;
    let mut lines = vec![Line::from(vec![
        Span::styled(format!(" {} ", plan.title), theme.title),
        Span::styled(plan.risk.as_str().to_string(), risk_style(plan.risk, theme)),
    ])];
    lines.push(Line::styled(" plan", theme.header_row));
    for (i, step) in plan.steps.iter().enumerate() {
        lines.push(Line::styled(
            truncate(
                &format!("  {}. {} [{}] {}", i + 1, step.name, step.kind, step.detail),
                width,
            ),
            theme.text,
        ));
    }
    if !plan.checks.is_empty() {
        lines.push(Line::styled(" checks", theme.header_row));
        for check in &plan.checks {
            let (mark, style) = if check.holds {
                ("ok ", theme.good)
            } else {
                ("NO ", theme.bad)
            };
            let value = check.value.lines().next().unwrap_or("").to_string();
            lines.push(Line::from(vec![
                Span::styled(format!("  {mark}"), style),
                Span::styled(
                    truncate(
                        &format!("{} {}: {value}", check.role, check.name),
                        width.saturating_sub(5),
                    ),
                    theme.text,
                ),
            ]));
        }
    }
    lines.push(Line::styled(" blast radius", theme.header_row));
    lines.push(Line::styled(
        truncate(&blast_radius(plan), width),
        theme.warn,
    ));
    lines.push(Line::raw(""));
    if dialog.needs_typing() {
        lines.push(Line::from(vec![
            Span::styled(
                format!(" destructive: type {:?} to confirm ", dialog.expected),
                theme.critical,
            ),
            Span::styled(format!("{}█", dialog.typed), theme.input),
        ]));
    }
    let button = |label: &'static str, which: ConfirmButton, style| {
        Span::styled(
            label,
            if dialog.focus == which {
                theme.button_focused
            } else {
                style
            },
        )
    };
    lines.push(Line::from(vec![
        Span::raw("   "),
        button("[ Cancel ]", ConfirmButton::Cancel, theme.text),
        Span::raw("  "),
        button("[ Start ]", ConfirmButton::Start, theme.mutating_key),
        Span::styled("   tab/←→: move · enter: choose · esc: cancel", theme.muted),
    ]));
    lines
}

/// `shards 3, 4 · 2,400 guilds (60%…)` in one line.
fn blast_radius(plan: &PlanView) -> String {
    let radius = &plan.blast_radius;
    let shards: Vec<String> = radius
        .shards
        .iter()
        .map(|s| format!("{} ({:.0})", s.shard, s.load))
        .collect();
    format!(
        "  {} shard(s): {} · {:.0} {} affected · at most {} unavailable at once",
        radius.shards.len(),
        shards.join(", "),
        radius.total_load,
        radius.unit,
        radius.max_unavailable,
    )
}

fn status_style(status: ActionStatus, theme: &Theme) -> Style {
    match status {
        ActionStatus::Succeeded => theme.good,
        ActionStatus::Failed | ActionStatus::Interrupted => theme.bad,
        ActionStatus::Cancelled | ActionStatus::RolledBack | ActionStatus::RollingBack => {
            theme.warn
        }
        ActionStatus::Pending | ActionStatus::Running | ActionStatus::AwaitingConfirmation => {
            theme.key
        }
    }
}

pub fn draw_progress(
    frame: &mut Frame,
    pane: &ProgressPane,
    fleet: &FleetState,
    theme: &Theme,
    now_ms: i64,
) {
    let width = inner_width(frame);
    let followed = fleet
        .agents
        .get(pane.agent)
        .and_then(|a| a.actions.get(&pane.action));
    let mut lines = match followed {
        None => vec![Line::styled(" waiting for the agent…", theme.muted)],
        Some(followed) => {
            let mut lines = progress_lines(&followed.record, width, theme, now_ms);
            if let Some(error) = &followed.poll_error {
                lines.push(Line::styled(
                    truncate(&format!(" last poll failed: {error}"), width),
                    theme.bad,
                ));
            }
            lines
        }
    };
    lines.push(Line::styled(
        " c: cancel (rollback follows) · esc: close (the action keeps running)",
        theme.muted,
    ));
    let title = format!(" Action {} on {} ", pane.action, pane.node);
    show(frame, title, lines, theme);
}

fn progress_lines(
    record: &ActionRecord,
    width: usize,
    theme: &Theme,
    now_ms: i64,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(format!(" {} ", record.runbook), theme.title),
        Span::styled(
            record.status.as_str().to_string(),
            status_style(record.status, theme),
        ),
        Span::styled(
            format!(
                "  shards {} · by {} · {} ago",
                record.shards.join(","),
                record.requested_by,
                age_ms(record.created_at_ms, now_ms)
            ),
            theme.muted,
        ),
    ])];
    for step in &record.steps {
        let (mark, style) = match step.result {
            StepResult::Running => ("…", theme.key),
            StepResult::Succeeded => ("✓", theme.good),
            StepResult::FailedContinued => ("!", theme.warn),
            StepResult::Failed => ("✗", theme.bad),
        };
        let took = step.ended_at_ms.map_or_else(String::new, |end| {
            format!(" {} ", age_ms(step.started_at_ms, end))
        });
        let output = step.output.lines().last().unwrap_or("").to_string();
        lines.push(Line::from(vec![
            Span::styled(format!("  {mark} "), style),
            Span::styled(
                truncate(
                    &format!("{:<8} {:<24}{took} {output}", step.phase, step.name),
                    width.saturating_sub(4),
                ),
                theme.text,
            ),
        ]));
    }
    if let Some(error) = &record.error {
        lines.push(Line::styled(
            truncate(&format!(" {error}"), width),
            theme.bad,
        ));
    }
    lines
}

pub fn draw_audit(frame: &mut Frame, pane: &AuditPane, theme: &Theme, now_ms: i64) {
    let width = inner_width(frame);
    let mut lines = vec![Line::styled(
        format!(
            " {:<10} {:<18} {:<8} {:<13} {:<8} {:>4}",
            "ID", "RUNBOOK", "BY", "STATUS", "SHARDS", "AGE"
        ),
        theme.header_row,
    )];
    match &pane.records {
        None => lines.push(Line::styled(" loading…", theme.muted)),
        Some(Err(error)) => lines.push(Line::styled(format!(" {error}"), theme.bad)),
        Some(Ok(records)) if records.is_empty() => {
            lines.push(Line::styled(" no actions recorded yet", theme.muted));
        }
        Some(Ok(records)) => {
            let height = usize::from(MAX_HEIGHT.min(frame.area().height).saturating_sub(6));
            let first = pane.selected.saturating_sub(height.saturating_sub(1));
            for (i, record) in records.iter().enumerate().skip(first).take(height) {
                let style = if i == pane.selected {
                    theme.selected
                } else {
                    theme.text
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        truncate(
                            &format!(
                                " {:<10} {:<18} {:<8} ",
                                truncate(&record.id, 10),
                                truncate(&record.runbook, 18),
                                truncate(&record.requested_by, 8)
                            ),
                            width,
                        ),
                        style,
                    ),
                    Span::styled(
                        format!("{:<13} ", record.status.as_str()),
                        status_style(record.status, theme),
                    ),
                    Span::styled(
                        format!(
                            "{:<8} {:>4}",
                            truncate(&record.shards.join(","), 8),
                            age_ms(record.created_at_ms, now_ms)
                        ),
                        style,
                    ),
                ]));
            }
        }
    }
    match &pane.confirm_rollback {
        Some(action) => lines.push(Line::styled(
            format!(
                " roll back interrupted action {action}? y: roll back · any other key: keep it"
            ),
            theme.bad,
        )),
        None if pane.rollback_candidate().is_some() => lines.push(Line::styled(
            " j/k: move · b: roll back this interrupted action · esc: close",
            theme.muted,
        )),
        None => lines.push(Line::styled(" j/k: move · esc: close", theme.muted)),
    }
    show(frame, format!(" Audit: {} ", pane.node), lines, theme);
}
