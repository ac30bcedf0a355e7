//! Permission decisions (USR-1): `selfcare_core::policy::decide` against the floor a host would
//! otherwise write by hand, a bare `HashMap<(Role, Action), bool>` lookup of the same pairs,
//! measured in the same run. Goal (DESIGN §6, the policy brief): `decide` ≤ 2× the HashMap.
//!
//! Both functions walk the same fixed, shuffled sequence of (role, action) pairs, so the
//! branch predictor cannot learn a pattern that only one of them sees.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::policy::{Action, Actor, decide, permission_table};
use selfcare_core::roles::{Channel, Role};

/// How many (role, action) pairs one iteration decides.
const PAIRS: usize = 1024;

/// Every role with every action, repeated and shuffled by a fixed linear congruential
/// sequence (deterministic: the same pairs in every run and for both contenders).
fn pairs() -> Vec<(Role, Action)> {
    let all: Vec<(Role, Action)> = Role::ALL
        .iter()
        .flat_map(|role| Action::ALL.iter().map(move |action| (*role, *action)))
        .collect();
    let mut state: u64 = 0x5eed_cafe;
    (0..PAIRS)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let index = usize::try_from(state >> 33).unwrap_or(0) % all.len().max(1);
            all.get(index)
                .copied()
                .unwrap_or((Role::Owner, Action::ViewSims))
        })
        .collect()
}

/// The channel each role's credential has.
fn channel_of(role: Role) -> Channel {
    if role == Role::ApiUser {
        Channel::Api
    } else {
        Channel::Portal
    }
}

fn permission(c: &mut Criterion) {
    let (Ok(org), Ok(user)) = (
        OrgId::parse("0190a6a0-0000-7000-8000-000000000001"),
        UserId::parse("0190a6a0-0000-7000-8000-000000000002"),
    ) else {
        eprintln!("permission bench: fixed ids did not parse; skipped");
        return;
    };
    let pairs = pairs();
    let subjects: Vec<(Actor, Action)> = pairs
        .iter()
        .map(|(role, action)| {
            (
                Actor {
                    org,
                    user,
                    role: *role,
                    channel: channel_of(*role),
                },
                *action,
            )
        })
        .collect();
    // The same answers as the policy table, in the data structure a host would reach for.
    let map: HashMap<(Role, Action), bool> = permission_table()
        .iter()
        .flat_map(|row| {
            Role::ALL.iter().map(move |role| {
                (
                    (*role, row.action),
                    row.access(*role).allows(channel_of(*role)),
                )
            })
        })
        .collect();

    // Both contenders must give the same answers, or the comparison means nothing.
    let disagreements = subjects
        .iter()
        .filter(|(actor, action)| {
            decide(actor, *action, org).allowed()
                != map.get(&(actor.role, *action)).copied().unwrap_or(false)
        })
        .count();
    if disagreements > 0 {
        eprintln!("permission bench: decide and the HashMap disagree on {disagreements} pairs");
    }

    let mut group = c.benchmark_group("permission");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("selfcare_decide", |b| {
        b.iter(|| {
            let mut allowed = 0usize;
            for (actor, action) in black_box(&subjects) {
                allowed += usize::from(decide(actor, *action, org).allowed());
            }
            allowed
        });
    });
    group.bench_function("hashmap_lookup", |b| {
        b.iter(|| {
            let mut allowed = 0usize;
            for key in black_box(&pairs) {
                allowed += usize::from(map.get(key).copied().unwrap_or(false));
            }
            allowed
        });
    });
    group.finish();
}

criterion_group!(benches, permission);
criterion_main!(benches);
