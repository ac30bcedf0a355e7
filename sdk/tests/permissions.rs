//! `session.can` (USR-1): the answer a session gets ahead of time is the answer the use case
//! gives when it is tried.

#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{business, ctx, insert_member, world};
use selfcare::core::ReasonCode;
use selfcare::core::ids::UserId;
use selfcare::core::policy::Action;
use selfcare::core::roles::Role;
use selfcare::permissions::Target;
use selfcare::storage::page::PageRequest;
use selfcare::{Error, Session};

async fn login(w: &common::World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

/// Every portal role against three use cases: `can` says yes exactly when the call succeeds,
/// and its reason is the reason of the call's denial.
#[tokio::test]
async fn usr_1_can_agrees_with_the_use_case_for_every_portal_role() {
    let w = world();
    let (customer, owner) = business("owner@acme.example");
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    for (i, role) in [Role::Owner, Role::Admin, Role::User, Role::ReadOnly]
        .into_iter()
        .enumerate()
    {
        let email = format!("member{i}@acme.example");
        insert_member(w.store.as_ref(), reg.org, &email, role).await;
        let s = login(&w, &email).await;

        let asked = s
            .can(Action::ViewUsers, Target::Organisation)
            .await
            .unwrap();
        let done = s.users(PageRequest::first(10)).await;
        match done {
            Ok(_) => assert!(asked.allowed(), "{role:?} view users"),
            Err(Error::PermissionDenied { reason }) => {
                assert!(!asked.allowed(), "{role:?} view users");
                assert_eq!(asked.reason(), reason);
            }
            Err(e) => panic!("{e:?}"),
        }

        let asked = s
            .can(Action::InviteUser, Target::Organisation)
            .await
            .unwrap();
        let done = s
            .invite_user(
                &format!("new{i}@acme.example"),
                "New Person",
                Role::ReadOnly,
            )
            .await;
        match done {
            Ok(_) => assert!(asked.allowed(), "{role:?} invite"),
            Err(Error::PermissionDenied { reason }) => {
                assert!(!asked.allowed(), "{role:?} invite");
                assert_eq!(asked.reason(), reason);
            }
            Err(e) => panic!("{e:?}"),
        }

        let asked = s
            .can(
                Action::SetUserRole,
                Target::User {
                    id: reg.owner,
                    new_role: Some(Role::User),
                },
            )
            .await
            .unwrap();
        let done = s.set_role(reg.owner, Role::User).await;
        match done {
            Ok(()) => {
                assert!(asked.allowed(), "{role:?} demote the owner");
                // Put the first Owner back for the next role.
                let first = login(&w, &email).await;
                first.set_role(reg.owner, Role::Owner).await.unwrap();
            }
            Err(Error::PermissionDenied { reason }) => {
                assert!(!asked.allowed(), "{role:?} demote the owner");
                assert_eq!(asked.reason(), reason, "{role:?}");
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[tokio::test]
async fn usr_1_can_on_a_user_of_another_organisation_is_not_found() {
    let w = world();
    let (customer, owner) = business("owner@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let (customer, owner) = business("owner@other.example");
    let other = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let s = login(&w, "owner@acme.example").await;
    for action in [Action::RemoveUser, Action::ViewUsers] {
        let err = s
            .can(
                action,
                Target::User {
                    id: other.owner,
                    new_role: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err, Error::NotFound);
    }
    let unknown = UserId::new(time::macros::datetime!(2026-01-01 00:00 UTC), [9; 10]);
    let err = s
        .can(
            Action::RemoveUser,
            Target::User {
                id: unknown,
                new_role: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err, Error::NotFound);
}

/// USR-5 through `can`: the role is re-read, so an Admin demoted while logged in is told no
/// at once; and an Admin may change a User's role but not an Owner's.
#[tokio::test]
async fn usr_1_can_follows_a_demotion_in_an_open_session_and_the_target_role() {
    let w = world();
    let (customer, owner) = business("owner@acme.example");
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let admin_id =
        insert_member(w.store.as_ref(), reg.org, "admin@acme.example", Role::Admin).await;
    let user_id = insert_member(w.store.as_ref(), reg.org, "user@acme.example", Role::User).await;
    let admin = login(&w, "admin@acme.example").await;

    let any_role = |id| Target::User { id, new_role: None };
    assert!(
        admin
            .can(Action::SetUserRole, any_role(user_id))
            .await
            .unwrap()
            .allowed()
    );
    let on_owner = admin
        .can(Action::SetUserRole, any_role(reg.owner))
        .await
        .unwrap();
    assert!(!on_owner.allowed());
    assert_ne!(on_owner.reason(), ReasonCode::Allowed);

    let owner = login(&w, "owner@acme.example").await;
    owner.set_role(admin_id, Role::ReadOnly).await.unwrap();
    let after = admin
        .can(Action::InviteUser, Target::Organisation)
        .await
        .unwrap();
    assert!(!after.allowed());
    assert_eq!(after.reason(), ReasonCode::RoleLacksPermission);
    assert!(
        !admin
            .can(Action::SetUserRole, any_role(user_id))
            .await
            .unwrap()
            .allowed()
    );
}
