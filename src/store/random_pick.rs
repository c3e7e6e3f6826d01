//! Picking different members of a collection at random (HRANDFIELD, SRANDMEMBER and SPOP
//! with a count): how the positions are chosen is shared; each family says how to find a
//! random position that holds a member.

use foldhash::fast::RandomState;

/// A collection's positions, some of which hold a member.
pub trait Positions {
    /// A random position holding a member; the collection must not be empty. `below(n)`
    /// is a random number in `0..n`.
    fn pick(&self, below: &mut impl FnMut(usize) -> usize) -> usize;

    /// Every position holding a member, in order.
    fn live_positions(&self) -> Vec<usize>;
}

/// `count` different positions holding members, picked at random, in order. `len` is how
/// many members there are, more than `count`.
pub fn distinct(
    positions: &impl Positions,
    len: usize,
    count: usize,
    below: &mut impl FnMut(usize) -> usize,
) -> Vec<usize> {
    let mut chosen: Vec<usize> = if count.saturating_mul(3) > len {
        // Most of the collection: shuffle the front of the list of every position.
        let mut all = positions.live_positions();
        for i in 0..count {
            let j = i + below(all.len() - i);
            all.swap(i, j);
        }
        all.truncate(count);
        all
    } else {
        let mut seen = hashbrown::HashSet::with_capacity_and_hasher(count, RandomState::default());
        while seen.len() < count {
            seen.insert(positions.pick(below));
        }
        seen.into_iter().collect()
    };
    chosen.sort_unstable();
    chosen
}
