//! Which shard serves which guilds.
//!
//! Every shard owns a fixed set of guilds (its "home" guilds). Draining a
//! shard lends them, and any guilds it was lent, to other shards; resuming
//! it takes its own guilds back. The map counts guilds per (host, owner).

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct GuildMap {
    home: Vec<u32>,
    /// `hosted[host][owner]`: how many of `owner`'s guilds `host` serves.
    hosted: Vec<BTreeMap<u32, u32>>,
}

impl GuildMap {
    /// Every shard serves exactly its own guilds.
    pub fn new(home: Vec<u32>) -> Self {
        let hosted = Self::at_home(&home);
        Self { home, hosted }
    }

    fn at_home(home: &[u32]) -> Vec<BTreeMap<u32, u32>> {
        home.iter()
            .enumerate()
            .map(|(shard, &count)| BTreeMap::from([(shard as u32, count)]))
            .collect()
    }

    /// Sends every guild back to its owner, as a fresh process does.
    pub fn reset(&mut self) {
        self.hosted = Self::at_home(&self.home);
    }

    /// The number of guilds a shard owns.
    pub fn home(&self, shard: u32) -> u32 {
        self.home[shard as usize]
    }

    /// The number of guilds a shard serves right now, its own and lent ones.
    pub fn served_by(&self, host: u32) -> u32 {
        self.hosted[host as usize].values().sum()
    }

    /// The number of a shard's own guilds that other shards serve.
    pub fn lent_out(&self, owner: u32) -> u32 {
        self.hosted
            .iter()
            .enumerate()
            .filter(|(host, _)| *host as u32 != owner)
            .filter_map(|(_, guilds)| guilds.get(&owner))
            .sum()
    }

    /// Moves up to `count` guilds that `from` serves to `to`; returns how many moved.
    pub fn transfer(&mut self, from: u32, to: u32, count: u32) -> u32 {
        let mut moved = 0;
        while moved < count {
            let Some((&owner, &available)) = self.hosted[from as usize].iter().next() else {
                break;
            };
            let take = available.min(count - moved);
            self.take(from, owner, take);
            *self.hosted[to as usize].entry(owner).or_default() += take;
            moved += take;
        }
        moved
    }

    /// Takes up to `count` of `owner`'s guilds back from the shards serving
    /// them, the busiest host first; returns how many came back.
    pub fn reclaim(&mut self, owner: u32, count: u32) -> u32 {
        let mut reclaimed = 0;
        while reclaimed < count {
            let busiest = (0..self.hosted.len() as u32)
                .filter(|&host| host != owner)
                .filter_map(|host| {
                    let lent = *self.hosted[host as usize].get(&owner)?;
                    Some((self.served_by(host), host, lent))
                })
                .max();
            let Some((_, host, lent)) = busiest else {
                break;
            };
            let take = lent.min(count - reclaimed);
            self.take(host, owner, take);
            *self.hosted[owner as usize].entry(owner).or_default() += take;
            reclaimed += take;
        }
        reclaimed
    }

    fn take(&mut self, host: u32, owner: u32, count: u32) {
        let guilds = &mut self.hosted[host as usize];
        if let Some(held) = guilds.get_mut(&owner) {
            *held -= count;
            if *held == 0 {
                guilds.remove(&owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guilds_lent_by_a_drain_come_back_on_reclaim() {
        let mut map = GuildMap::new(vec![100, 80, 60]);
        assert_eq!(map.transfer(0, 1, 70), 70);
        assert_eq!(map.transfer(0, 2, 50), 30);
        assert_eq!(
            (map.served_by(0), map.served_by(1), map.served_by(2)),
            (0, 150, 90)
        );
        assert_eq!(map.lent_out(0), 100);

        assert_eq!(map.reclaim(0, 1000), 100);
        assert_eq!(
            (map.served_by(0), map.served_by(1), map.served_by(2)),
            (100, 80, 60)
        );
        assert_eq!(map.lent_out(0), 0);
    }

    #[test]
    fn a_drained_shard_passes_on_guilds_it_was_lent() {
        let mut map = GuildMap::new(vec![10, 10, 10]);
        map.transfer(0, 1, 10);
        map.transfer(1, 2, 20);
        assert_eq!(map.served_by(2), 30);
        assert_eq!(map.lent_out(0), 10);
        map.reset();
        assert_eq!(map.served_by(2), 10);
        assert_eq!(map.home(2), 10);
    }
}
