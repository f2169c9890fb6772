//! Which view is on screen, and the per-view cursor.

use crate::fleet::AgentId;

/// The kind of a view, for scoping actions and keeping per-view state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ViewKind {
    Fleet,
    Node,
    Shards,
    Alerts,
}

impl ViewKind {
    pub fn title(self) -> &'static str {
        match self {
            ViewKind::Fleet => "fleet",
            ViewKind::Node => "node",
            ViewKind::Shards => "shards",
            ViewKind::Alerts => "alerts",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Fleet,
    Node(AgentId),
    Shards,
    Alerts,
}

impl View {
    pub fn kind(self) -> ViewKind {
        match self {
            View::Fleet => ViewKind::Fleet,
            View::Node(_) => ViewKind::Node,
            View::Shards => ViewKind::Shards,
            View::Alerts => ViewKind::Alerts,
        }
    }
}

/// Selection and scroll position in a table whose rows are built only for
/// what is visible.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableCursor {
    pub selected: usize,
    /// First visible row.
    pub offset: usize,
}

impl TableCursor {
    /// Moves by `delta` rows, staying within `0..len`.
    pub fn step(&mut self, delta: isize, len: usize) {
        let last = len.saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last.max(0)) as usize;
    }

    pub fn to_end(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }

    /// Keeps the selection inside `len` rows and visible in `height` rows;
    /// returns the range of rows to build.
    pub fn visible(&mut self, len: usize, height: usize) -> std::ops::Range<usize> {
        self.selected = self.selected.min(len.saturating_sub(1));
        if height == 0 {
            return 0..0;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
        self.offset..(self.offset + height).min(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_window_follows_the_selection() {
        let mut cursor = TableCursor::default();
        assert_eq!(cursor.visible(100, 10), 0..10);
        cursor.step(15, 100);
        assert_eq!(cursor.visible(100, 10), 6..16);
        cursor.to_end(100);
        assert_eq!(cursor.visible(100, 10), 90..100);
        // The data shrank under the cursor.
        assert_eq!(cursor.visible(5, 10), 0..5);
        assert_eq!(cursor.selected, 4);
        assert_eq!(cursor.visible(0, 10), 0..0);
    }
}
