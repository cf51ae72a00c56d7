//! Retry delays: exponential backoff with "equal jitter".
//!
//! Retry `n` (counting from 1) waits between half and all of its ceiling,
//! `min(max, base * 2^(n-1))`, chosen uniformly. The random half spreads retries of tasks
//! that failed together; the fixed half keeps a retry from coming back at once.

use rand::Rng;

/// Exponential backoff settings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first retry.
    pub base_ms: u64,
    /// The largest ceiling of any retry.
    pub max_ms: u64,
}

impl Default for Backoff {
    /// A 1 s base, capped at 5 minutes.
    fn default() -> Self {
        Self {
            base_ms: 1_000,
            max_ms: 300_000,
        }
    }
}

impl Backoff {
    /// The longest delay of retry `retry` (from 1): `min(max, base * 2^(retry-1))`,
    /// saturating instead of overflowing. Retry 0 is treated as retry 1.
    pub fn ceiling_ms(&self, retry: u32) -> u64 {
        let doublings = retry.saturating_sub(1);
        let ceiling = if self.base_ms == 0 {
            0
        } else if doublings >= u64::BITS || self.base_ms > u64::MAX >> doublings {
            u64::MAX
        } else {
            self.base_ms << doublings
        };
        ceiling.min(self.max_ms)
    }

    /// The delay before retry `retry`: uniformly in `[ceiling / 2, ceiling]`.
    pub fn delay_ms(&self, retry: u32, rng: &mut impl Rng) -> u64 {
        let ceiling = self.ceiling_ms(retry);
        rng.random_range(ceiling / 2..=ceiling)
    }

    /// [`Backoff::delay_ms`] with the thread-local random generator.
    pub fn delay_ms_random(&self, retry: u32) -> u64 {
        self.delay_ms(retry, &mut rand::rng())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn default_doubles_from_one_second_to_five_minutes() {
        let backoff = Backoff::default();
        assert_eq!(
            backoff,
            Backoff {
                base_ms: 1_000,
                max_ms: 300_000
            }
        );
        let ceilings: Vec<u64> = (0..=11).map(|retry| backoff.ceiling_ms(retry)).collect();
        assert_eq!(
            ceilings,
            [
                1_000, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000,
                300_000, 300_000
            ]
        );
        assert_eq!(backoff.ceiling_ms(u32::MAX), 300_000);
    }

    #[test]
    fn saturates_without_overflow() {
        let unbounded = Backoff {
            base_ms: 3,
            max_ms: u64::MAX,
        };
        assert_eq!(unbounded.ceiling_ms(63), 3 << 62);
        assert_eq!(unbounded.ceiling_ms(64), u64::MAX);
        assert_eq!(unbounded.ceiling_ms(65), u64::MAX);
        assert_eq!(unbounded.ceiling_ms(u32::MAX), u64::MAX);
        let one = Backoff {
            base_ms: 1,
            max_ms: u64::MAX,
        };
        assert_eq!(one.ceiling_ms(64), 1 << 63);
        assert_eq!(one.ceiling_ms(65), u64::MAX);
        let zero = Backoff {
            base_ms: 0,
            max_ms: u64::MAX,
        };
        assert_eq!(zero.ceiling_ms(u32::MAX), 0);
        assert_eq!(zero.delay_ms_random(u32::MAX), 0);
    }

    #[test]
    fn delays_spread_over_the_upper_half() {
        let backoff = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<u64> = (0..1_000).map(|_| backoff.delay_ms(3, &mut rng)).collect();
        assert!(delays.iter().all(|delay| (2_000..=4_000).contains(delay)));
        assert!(delays.iter().any(|delay| *delay < 2_500));
        assert!(delays.iter().any(|delay| *delay > 3_500));
        let delay = backoff.delay_ms_random(1);
        assert!((500..=1_000).contains(&delay));
    }

    proptest! {
        #[test]
        fn delay_within_half_and_full_ceiling(
            base_ms in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0u64..100_000],
            max_ms in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0u64..10_000_000],
            retry in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>(), 0u32..100],
            seed in any::<u64>(),
        ) {
            let backoff = Backoff { base_ms, max_ms };
            let ceiling = backoff.ceiling_ms(retry);
            let delay = backoff.delay_ms(retry, &mut StdRng::seed_from_u64(seed));
            prop_assert!(ceiling / 2 <= delay && delay <= ceiling);
            prop_assert!(ceiling <= max_ms);
            let random = backoff.delay_ms_random(retry);
            prop_assert!(ceiling / 2 <= random && random <= ceiling);
        }

        #[test]
        fn ceiling_non_decreasing_and_capped(
            base_ms in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 1u64..100_000],
            max_ms in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>(), 0u64..10_000_000],
            retry in prop_oneof![0u32..200, any::<u32>()],
        ) {
            let backoff = Backoff { base_ms, max_ms };
            let ceiling = backoff.ceiling_ms(retry);
            let next = backoff.ceiling_ms(retry.saturating_add(1));
            prop_assert!(ceiling <= next);
            prop_assert!(next <= max_ms);
            if (1..=64).contains(&retry) {
                let exact = u128::from(base_ms) << (retry - 1);
                prop_assert_eq!(u128::from(ceiling), exact.min(u128::from(max_ms)).min(u128::from(u64::MAX)));
            }
        }
    }
}
