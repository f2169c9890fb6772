//! Frame time of the fleet and shards views with 200 agents × 64 shards
//! (the budget is 4 ms per frame). Run:
//! `cargo bench -p opsdeck-tui --bench render -- --measurement-time 5`

use criterion::{criterion_group, criterion_main, Criterion};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use opsdeck_tui::app::keymap::Keymap;
use opsdeck_tui::app::App;
use opsdeck_tui::config::ThemeName;
use opsdeck_tui::fixtures::{large_fleet, NOW_MS};
use opsdeck_tui::ui::{self, theme::Theme};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn bench_views(c: &mut Criterion) {
    let fleet = large_fleet(200, 64);
    let theme = Theme::resolve(ThemeName::Dark, false);
    for (name, key, size) in [
        ("fleet 160x48", '1', (160, 48)),
        ("shards 160x48", '2', (160, 48)),
        ("alerts 160x48", '3', (160, 48)),
        ("fleet 80x24", '1', (80, 24)),
        ("shards 80x24", '2', (80, 24)),
    ] {
        let mut app = App::new(Keymap::default(), "bench".into());
        let press = Event::Key(KeyEvent::new(KeyCode::Char(key), KeyModifiers::NONE));
        app.handle_event(&press, &fleet, NOW_MS);
        let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).expect("test backend");
        // Scroll into the middle so the visible window is not the first page.
        let down = Event::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
        terminal
            .draw(|frame| ui::draw(frame, &mut app, &fleet, &theme, NOW_MS))
            .expect("draw");
        for _ in 0..20 {
            app.handle_event(&down, &fleet, NOW_MS);
        }
        c.bench_function(&format!("render {name}, 200 agents x 64 shards"), |b| {
            b.iter(|| {
                terminal
                    .draw(|frame| ui::draw(frame, &mut app, &fleet, &theme, NOW_MS))
                    .expect("draw");
            })
        });
    }
}

criterion_group!(benches, bench_views);
criterion_main!(benches);
