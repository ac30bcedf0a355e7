//! What a session may do (USR-1): the same decision the use cases make, asked ahead so an
//! interface can hide or explain what the user cannot do.

use selfcare_core::ids::UserId;
use selfcare_core::policy::{Action, Decision, UserChange};
use selfcare_core::roles::Role;

use crate::error::Result;
use crate::session::Session;
use crate::users::user_decision;

/// What an action would act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields,
    from = "TargetData"
)]
pub enum Target {
    /// The session's own organisation (customer data, orders, SIMs, …).
    Organisation,
    /// One of the organisation's users; decided with the USR-3 table against the user's role
    /// as stored now. `new_role` is the role a [`Action::SetUserRole`] would give; without it
    /// the answer is whether the user's role can be changed to any role at all.
    User {
        /// The user.
        id: UserId,
        /// The role to give, for [`Action::SetUserRole`].
        new_role: Option<Role>,
    },
}

/// What `Target` reads from: serde lets a unit variant of an internally tagged enum ignore
/// extra keys, and the wire rejects unknown fields everywhere (`{"type": "organisation",
/// "id": …}` is an error, not an organisation).
#[derive(serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum TargetData {
    Organisation {},
    User {
        id: UserId,
        #[serde(default)]
        new_role: Option<Role>,
    },
}

impl From<TargetData> for Target {
    fn from(data: TargetData) -> Self {
        match data {
            TargetData::Organisation {} => Target::Organisation,
            TargetData::User { id, new_role } => Target::User { id, new_role },
        }
    }
}

impl Session {
    /// Whether this session may perform `action` on `target` now, with the reason when not:
    /// the role is re-read from the store, the organisation's second-factor requirement
    /// applies (AUTH-6), and a user target is decided by the USR-3 table with the Owners
    /// counted now. Asking is not an attempt: nothing is written to the audit log.
    ///
    /// ```no_run
    /// # async fn demo(session: selfcare::Session) -> selfcare::Result<()> {
    /// use selfcare::core::policy::{Action, explain};
    /// use selfcare::permissions::Target;
    /// let decision = session.can(Action::PlaceOrder, Target::Organisation).await?;
    /// if !decision.allowed() {
    ///     println!("{}", decision.reason().text());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `NotFound` for a user target that is not a user of this organisation;
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn can(&self, action: Action, target: Target) -> Result<Decision> {
        let portal = self.portal();
        portal
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (_, actor, decision) = self.decide(tx.as_mut(), action).await?;
                let decision = match target {
                    Target::User { id, new_role } if decision.allowed() => {
                        let changes: Vec<UserChange> = match (action, new_role) {
                            (Action::UpdateUserName, _) => vec![UserChange::Name],
                            (Action::UpdateUserEmail, _) => vec![UserChange::Email],
                            (Action::ResetUserSecret, _) => vec![UserChange::ResetSecret],
                            (Action::RemoveUser, _) => vec![UserChange::Remove],
                            (Action::SetUserRole, Some(role)) => vec![UserChange::SetRole(role)],
                            (Action::SetUserRole, None) => {
                                Role::ALL.iter().map(|r| UserChange::SetRole(*r)).collect()
                            }
                            // An action that is not about a user: the user only has to exist.
                            _ => Vec::new(),
                        };
                        let mut verdict = None;
                        for change in changes {
                            let (_, d) = user_decision(tx.as_mut(), &actor, id, change).await?;
                            // Any allowed role change answers "yes"; otherwise keep the first
                            // reason, the one of the most common change.
                            if d.allowed() || verdict.is_none() {
                                verdict = Some(d);
                            }
                            if verdict.as_ref().is_some_and(Decision::allowed) {
                                break;
                            }
                        }
                        match verdict {
                            Some(d) => d,
                            None => {
                                tx.user(id).await?.ok_or(crate::error::Error::NotFound)?;
                                decision
                            }
                        }
                    }
                    Target::User { id, .. } => {
                        // A denied action still says NotFound for a user that is not there,
                        // so `can` never reveals less or more than the use case would.
                        tx.user(id).await?.ok_or(crate::error::Error::NotFound)?;
                        decision
                    }
                    Target::Organisation => decision,
                };
                tx.commit().await?;
                Ok(decision)
            })
            .await
    }
}
