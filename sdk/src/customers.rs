//! Registering a customer with its first Owner (ACC-1, ACC-2, USR-1).

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome, PersonalField};
use selfcare_core::contact::Email;
use selfcare_core::customer::{Customer, MonthlyVolumeLimits, NewCustomer};
use selfcare_core::error::text_field;
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::password::{Password, check_new_password};
use selfcare_core::roles::{Channel, Role};
use selfcare_storage::accounts::{CustomerRecord, UserRecord, UserStatus};

use crate::error::{Error, Result};
use crate::portal::{Portal, RequestContext, fields, target};

/// The first Owner of a new customer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOwner {
    /// The Owner's name.
    pub name: String,
    /// The Owner's login e-mail.
    pub email: String,
    /// The Owner's password (AUTH-1 policy applies).
    #[serde(serialize_with = "selfcare_core::password::wire_form::serialize")]
    pub password: Password,
}

/// What registration created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registered {
    /// The new organisation.
    pub org: OrgId,
    /// Its first Owner.
    pub owner: UserId,
}

/// The longest user name accepted.
const USER_NAME_MAX: usize = 100;

impl Portal {
    /// Registers a business or individual customer with its first Owner, who can log in at
    /// once.
    ///
    /// # Errors
    /// `Validation` naming the field (customer data, owner name, e-mail, password policy of
    /// AUTH-1 with the owner's name, e-mail and company as context); `Conflict(already_exists)`
    /// when the e-mail is someone's login already; `Unavailable`.
    pub async fn register_customer(
        &self,
        customer: &NewCustomer,
        owner: NewOwner,
        ctx: &RequestContext,
    ) -> Result<Registered> {
        let now = self.now();
        let org = OrgId::new(now, self.random()?);
        let customer = Customer::create(org, customer, now).map_err(Error::from)?;
        let name = text_field("owner.name", &owner.name, USER_NAME_MAX, true, false)
            .map_err(Error::from)?;
        let email = Email::parse_field("owner.email", &owner.email).map_err(Error::from)?;
        let company = customer
            .company_name()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default();
        let password = check_new_password(
            &owner.password,
            false,
            &[name.as_str(), email.as_str(), company.as_str()],
        )
        .map_err(|e| Error::from(e.within("owner")))?;
        let hash = self.hash(password).await?;
        let owner_id = UserId::new(now, self.random()?);
        let limits = MonthlyVolumeLimits::initial(&self.config().volume_limit_steps);
        let test_mode = self.inner.ports.test_mode;
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            tx.insert_customer(CustomerRecord {
                customer: customer.clone(),
                volume_limits: limits,
                second_factor_required: false,
                test_mode,
            })
            .await?;
            tx.insert_user(UserRecord {
                id: owner_id,
                email: email.clone(),
                name: name.clone(),
                role: Role::Owner,
                status: UserStatus::Active,
                password_hash: Some(hash.clone()),
                pending_email: None,
                created_at: now,
            })
            .await?;
            let mut event = self.audit_event(
                Some(org),
                AuditActor::User { id: owner_id },
                Channel::Portal,
                AuditEventName::UserCreated,
                target("user", owner_id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["name", "email", "role", "password"])?;
            event.personal = self.personal([
                (PersonalField::Name, name.as_str()),
                (PersonalField::Email, email.as_str()),
                (PersonalField::Source, ctx.source.as_str()),
            ])?;
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(Registered {
            org,
            owner: owner_id,
        })
    }
}
