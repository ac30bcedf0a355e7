//! Every cell of the USR-3 table through the use cases: actor role × target role × change,
//! against the expectations of DESIGN.md written out here (not read from `core`).

#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{PASSWORD, business, ctx, insert_member, world};
use selfcare::core::password::Password;
use selfcare::core::roles::Role;
use selfcare::users::UserUpdate;
use selfcare::{Error, LoginOutcome};

#[derive(Debug, Clone, Copy)]
enum Change {
    Name,
    Email,
    ResetSecret,
    SetRole(Role),
    Remove,
}

const ROLES: [Role; 5] = [
    Role::Owner,
    Role::Admin,
    Role::User,
    Role::ReadOnly,
    Role::ApiUser,
];

/// DESIGN.md USR-3 (and USR-4: User and ReadOnly administer nobody).
fn expected(actor: Role, target: Role, change: Change) -> bool {
    use Role::*;
    let admin_like = matches!(actor, Owner | Admin);
    if !admin_like {
        return false;
    }
    match change {
        Change::Name | Change::Email => true,
        Change::ResetSecret => matches!(target, ReadOnly | ApiUser),
        Change::Remove => match actor {
            Owner => true,
            _ => matches!(target, User | ReadOnly | ApiUser),
        },
        Change::SetRole(new) => match actor {
            Owner => true,
            _ => {
                matches!(target, User | ReadOnly | ApiUser)
                    && matches!(new, User | ReadOnly | ApiUser)
            }
        },
    }
}

#[tokio::test]
async fn usr_3_every_cell_of_the_table_through_the_use_cases() {
    let mut changes = vec![
        Change::Name,
        Change::Email,
        Change::ResetSecret,
        Change::Remove,
    ];
    changes.extend(ROLES.map(Change::SetRole));
    let mut cells = 0;
    for actor_role in [Role::Owner, Role::Admin, Role::User, Role::ReadOnly] {
        for target_role in ROLES {
            for &change in &changes {
                let w = world();
                let (customer, owner) = business("founder@acme.example");
                let reg = w
                    .portal
                    .register_customer(&customer, owner, &ctx())
                    .await
                    .unwrap();
                let actor_email = if actor_role == Role::Owner {
                    "founder@acme.example".to_owned()
                } else {
                    insert_member(w.store.as_ref(), reg.org, "actor@acme.example", actor_role)
                        .await;
                    "actor@acme.example".to_owned()
                };
                let target = insert_member(
                    w.store.as_ref(),
                    reg.org,
                    "target@acme.example",
                    target_role,
                )
                .await;
                let founder = match w
                    .portal
                    .login("founder@acme.example", Password::new(PASSWORD), &ctx())
                    .await
                    .unwrap()
                {
                    LoginOutcome::Session(s) => s,
                    #[allow(unreachable_patterns)]
                    _ => panic!(),
                };
                if target_role == Role::ApiUser {
                    founder.create_api_client(target).await.unwrap();
                }
                let actor = match w
                    .portal
                    .login(&actor_email, Password::new(PASSWORD), &ctx())
                    .await
                    .unwrap()
                {
                    LoginOutcome::Session(s) => s,
                    #[allow(unreachable_patterns)]
                    _ => panic!(),
                };
                let result = match change {
                    Change::Name => actor
                        .update_user(
                            target,
                            UserUpdate {
                                name: Some("Renamed Person".into()),
                                email: None,
                            },
                        )
                        .await
                        .map(drop),
                    Change::Email => actor
                        .update_user(
                            target,
                            UserUpdate {
                                name: None,
                                email: Some("moved@acme.example".into()),
                            },
                        )
                        .await
                        .map(drop),
                    Change::ResetSecret => actor.reset_secret(target).await.map(drop),
                    Change::SetRole(role) => actor.set_role(target, role).await,
                    Change::Remove => actor.remove_user(target).await,
                };
                let want = expected(actor_role, target_role, change);
                match result {
                    Ok(()) => assert!(want, "{actor_role:?} → {target_role:?}: {change:?} allowed"),
                    Err(Error::PermissionDenied { .. }) => {
                        assert!(!want, "{actor_role:?} → {target_role:?}: {change:?} denied");
                    }
                    Err(e) => panic!("{actor_role:?} → {target_role:?}: {change:?}: {e:?}"),
                }
                // What was allowed happened; what was denied left the target as it was.
                let users = founder
                    .users(selfcare::storage::PageRequest::first(10))
                    .await
                    .unwrap();
                let stored = users.items.iter().find(|u| u.id == target);
                match (change, want) {
                    (Change::Remove, true) => assert!(stored.is_none()),
                    (Change::SetRole(role), true) => assert_eq!(stored.unwrap().role, role),
                    (Change::Name, true) => assert_eq!(stored.unwrap().name, "Renamed Person"),
                    (Change::Email, true) => {
                        // USR-3: not the login e-mail until the user approves it.
                        let u = stored.unwrap();
                        assert_eq!(u.email.as_str(), "target@acme.example");
                        assert_eq!(
                            u.pending_email.as_ref().map(|e| e.as_str()),
                            Some("moved@acme.example")
                        );
                    }
                    (_, false) => {
                        let u = stored.unwrap();
                        assert_eq!(u.role, target_role);
                        assert_eq!(u.name, "Team Member");
                        assert!(u.pending_email.is_none());
                    }
                    (Change::ResetSecret, true) => {}
                }
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 4 * 5 * 9);
}
