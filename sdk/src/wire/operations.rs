//! The one list of the operations on the wire (DESIGN §4, §7): for each, who may call it (its
//! scope), its input fields, its output and the call it makes on `Portal`, `Session` or
//! `StaffSession`. The request and response enums, the dispatch of [`Portal::handle`] and the
//! methods of the remote clients are all generated from this list, so they cannot drift apart.
//!
//! Entry grammar:
//! `scope [flags] operation Variant [=> method] { field: Type, … } -> Output = |target, input, ctx| call;`
//! - `scope`: `anonymous` (no credential), `session` (a customer or API session token),
//!   `staff` (a staff identity; the target is a `StaffSession`), `staff_portal` (a staff
//!   identity; the target is the `Portal`), `network` (the network's token);
//! - `[manual]`: the remote client's method is written by hand (it returns a remote session or
//!   writes to a caller's writer);
//! - `=> method`: the method's name on the remote client when it differs from the operation's
//!   (the staff calls whose names a customer call already has);
//! - `call` is an expression of type `Result<Output>` with `target`, `input` and `ctx` bound.
//!
//! [`Portal::handle`]: crate::Portal::handle

/// Calls `$callback!` with the whole list.
macro_rules! for_each_operation {
    ($callback:ident) => {
        $callback! {
            // ---------------------------------------------------------------------------------
            // Anonymous: registration, login, tokens from e-mails, guest tracking.
            // ---------------------------------------------------------------------------------
            /// Registers a business or individual customer with its first Owner (ACC-1, USR-2).
            anonymous [] register_customer RegisterCustomer {
                customer: selfcare_core::customer::NewCustomer,
                owner: crate::customers::NewOwner,
            } -> crate::customers::Registered
                = |p, i, ctx| p.register_customer(&i.customer, i.owner, ctx).await;

            /// Logs in with e-mail and password (AUTH-1, AUTH-3, AUTH-6).
            anonymous [manual] login Login {
                email: String,
                #[serde(serialize_with = "selfcare_core::password::wire_form::serialize")]
                password: selfcare_core::password::Password,
            } -> crate::wire::LoginOutput
                = |p, i, ctx| crate::wire::LoginOutput::of(p.login(&i.email, i.password, ctx).await);

            /// Completes a login with the second factor (AUTH-6).
            anonymous [manual] complete_second_factor CompleteSecondFactor {
                challenge: String,
                code_or_recovery_code: String,
            } -> crate::wire::SessionGrant
                = |p, i, ctx| p
                    .complete_second_factor(&i.challenge, &i.code_or_recovery_code, ctx)
                    .await
                    .map(|s| crate::wire::SessionGrant::of(&s));

            /// Logs an API client in (AUTH-4); its session token is the bearer of its calls.
            anonymous [manual] api_login ApiLogin {
                client_id: String,
                secret: String,
            } -> crate::wire::SessionGrant
                = |p, i, ctx| p
                    .api_login(&i.client_id, &i.secret, ctx)
                    .await
                    .map(|s| crate::wire::SessionGrant::of(&s));

            /// Sends a password-reset link, if the e-mail is known (AUTH-2).
            anonymous [] request_password_reset RequestPasswordReset {
                email: String,
            } -> () = |p, i, ctx| p.request_password_reset(&i.email, ctx).await;

            /// Sets a new password with a reset token (AUTH-2).
            anonymous [] reset_password ResetPassword {
                token: String,
                #[serde(serialize_with = "selfcare_core::password::wire_form::serialize")]
                new_password: selfcare_core::password::Password,
            } -> () = |p, i, ctx| p.reset_password(&i.token, i.new_password, ctx).await;

            /// Accepts an invitation: the new user's name and password (USR-3).
            anonymous [] accept_invitation AcceptInvitation {
                token: String,
                name: String,
                #[serde(serialize_with = "selfcare_core::password::wire_form::serialize")]
                password: selfcare_core::password::Password,
            } -> selfcare_core::ids::UserId
                = |p, i, ctx| p.accept_invitation(&i.token, &i.name, i.password, ctx).await;

            /// Confirms a new login e-mail with the token sent to it (USR-2).
            anonymous [] confirm_email ConfirmEmail {
                token: String,
            } -> () = |p, i, _ctx| p.confirm_email(&i.token).await;

            /// Approves an e-mail change an Owner or Admin made (USR-3).
            anonymous [] approve_email_change ApproveEmailChange {
                token: String,
            } -> () = |p, i, _ctx| p.approve_email_change(&i.token).await;

            /// A guest's view of an order by number and e-mail or postal code (ORD-4).
            anonymous [] track_order TrackOrder {
                order_number: String,
                email_or_postal_code: String,
            } -> selfcare_core::orders::GuestOrderView
                = |p, i, ctx| p.track_order(&i.order_number, &i.email_or_postal_code, ctx).await;

            // ---------------------------------------------------------------------------------
            // Network-side calls (the network's token only).
            // ---------------------------------------------------------------------------------
            /// Usage records from the network (TOP-2, TOP-3).
            network [] record_usage RecordUsage {
                records: Vec<selfcare_core::quota::UsageRecord>,
            } -> crate::usage::UsageReport = |p, i, _ctx| p.record_usage(i.records).await;

            /// The network's answer to a provisioning request (PLAN-2, PLAN-4).
            network [] complete_provisioning CompleteProvisioning {
                request_id: selfcare_core::ids::ProvisioningId,
                outcome: crate::plans::ProvisioningOutcome,
            } -> crate::plans::Completion
                = |p, i, _ctx| p.complete_provisioning(i.request_id, i.outcome).await;

            // ---------------------------------------------------------------------------------
            // Session: the logged-in user.
            // ---------------------------------------------------------------------------------
            /// Checks the bearer and says whose session it is (AUTH-4).
            session [manual] resume Resume {} -> crate::wire::SessionInfo
                = |s, _i, _ctx| Ok(crate::wire::SessionInfo::of(&s));

            /// Ends the session (AUTH-4).
            session [manual] logout Logout {} -> () = |s, _i, _ctx| s.logout().await;

            /// Whether the user may do `action` to `target`, and why (USR-1).
            session [] can Can {
                action: selfcare_core::policy::Action,
                target: crate::permissions::Target,
            } -> selfcare_core::policy::Decision = |s, i, _ctx| s.can(i.action, i.target).await;

            /// The user as stored now.
            session [] me Me {} -> crate::session::Me = |s, _i, _ctx| s.me().await;

            /// Changes one's own name, e-mail or password (USR-2, AUTH-5).
            session [] update_me UpdateMe {
                change: crate::profile::ProfileChange,
                #[serde(
                    default,
                    serialize_with = "selfcare_core::password::wire_form::serialize_option"
                )]
                current_password: Option<selfcare_core::password::Password>,
                captcha: Option<String>,
            } -> crate::profile::ProfileUpdated
                = |s, i, _ctx| s.update_me(i.change, i.current_password, i.captcha).await;

            /// The user's second factor (AUTH-6).
            session [] second_factor SecondFactor {} -> crate::second_factor::SecondFactorStatus
                = |s, _i, _ctx| s.second_factor().await;

            /// Starts TOTP enrolment (AUTH-6).
            session [] enrol_totp EnrolTotp {
                #[serde(serialize_with = "selfcare_core::password::wire_form::serialize")]
                current_password: selfcare_core::password::Password,
            } -> crate::second_factor::TotpEnrolment
                = |s, i, _ctx| s.enrol_totp(i.current_password).await;

            /// Confirms TOTP enrolment with a first code; gives the recovery codes (AUTH-6).
            session [] confirm_totp ConfirmTotp {
                code: String,
            } -> crate::second_factor::RecoveryCodes = |s, i, _ctx| s.confirm_totp(&i.code).await;

            /// Turns TOTP off (AUTH-6).
            session [] disable_totp DisableTotp {
                #[serde(serialize_with = "selfcare_core::password::wire_form::serialize")]
                current_password: selfcare_core::password::Password,
                code_or_recovery_code: String,
            } -> () = |s, i, _ctx| s.disable_totp(i.current_password, &i.code_or_recovery_code).await;

            /// New recovery codes (AUTH-6).
            session [] regenerate_recovery_codes RegenerateRecoveryCodes {
                code: String,
            } -> crate::second_factor::RecoveryCodes
                = |s, i, _ctx| s.regenerate_recovery_codes(&i.code).await;

            /// Requires a second factor of every user of the organisation (AUTH-6).
            session [] require_second_factor RequireSecondFactor {
                required: bool,
            } -> () = |s, i, _ctx| s.require_second_factor(i.required).await;

            /// The customer's data (ACC-1).
            session [] customer Customer {} -> crate::account::CustomerView
                = |s, _i, _ctx| s.customer().await;

            /// Changes the customer's data (ACC-1, ACC-2).
            session [] update_customer UpdateCustomer {
                update: selfcare_core::customer::CustomerUpdate,
                expected_version: Option<selfcare_storage::Version>,
            } -> crate::account::CustomerView
                = |s, i, _ctx| s.update_customer(&i.update, i.expected_version).await;

            /// The additional contact e-mails (ACC-3).
            session [] contact_emails ContactEmails {} -> selfcare_core::customer::ContactEmails
                = |s, _i, _ctx| s.contact_emails().await;

            /// Replaces the additional contact e-mails (ACC-3).
            session [] set_contact_emails SetContactEmails {
                additional: Vec<selfcare_core::customer::AdditionalEmail>,
            } -> selfcare_core::customer::ContactEmails
                = |s, i, _ctx| s.set_contact_emails(i.additional).await;

            /// Sets the customer's language (ACC-4).
            session [] set_language SetLanguage {
                tag: String,
            } -> selfcare_core::contact::Language = |s, i, _ctx| s.set_language(&i.tag).await;

            /// The monthly volume limits (ACC-5).
            session [] volume_limits VolumeLimits {} -> crate::account::VolumeLimitsView
                = |s, _i, _ctx| s.volume_limits().await;

            /// Sets the monthly volume limits (ACC-5).
            session [] set_volume_limits SetVolumeLimits {
                data_mb: selfcare_core::customer::Limit,
                sms: selfcare_core::customer::Limit,
            } -> selfcare_core::customer::MonthlyVolumeLimits
                = |s, i, _ctx| s.set_volume_limits(i.data_mb, i.sms).await;

            /// The organisation's users (USR-3).
            session [] users Users {
                page: selfcare_storage::PageRequest,
            } -> crate::users::UserPage = |s, i, _ctx| s.users(i.page).await;

            /// Invites a user (USR-3).
            session [] invite_user InviteUser {
                email: String,
                name: String,
                role: selfcare_core::roles::Role,
            } -> selfcare_core::ids::UserId
                = |s, i, _ctx| s.invite_user(&i.email, &i.name, i.role).await;

            /// Changes another user's name or e-mail (USR-3).
            session [] update_user UpdateUser {
                user: selfcare_core::ids::UserId,
                update: crate::users::UserUpdate,
            } -> crate::users::UserSummary = |s, i, _ctx| s.update_user(i.user, i.update).await;

            /// Gives a user another role (USR-3).
            session [] set_role SetRole {
                user: selfcare_core::ids::UserId,
                role: selfcare_core::roles::Role,
            } -> () = |s, i, _ctx| s.set_role(i.user, i.role).await;

            /// Removes a user (USR-3).
            session [] remove_user RemoveUser {
                user: selfcare_core::ids::UserId,
            } -> () = |s, i, _ctx| s.remove_user(i.user).await;

            /// Resets another user's password or API secret (USR-3).
            session [] reset_secret ResetSecret {
                user: selfcare_core::ids::UserId,
            } -> crate::users::SecretReset = |s, i, _ctx| s.reset_secret(i.user).await;

            /// Creates API client credentials for an ApiUser (USR-4).
            session [] create_api_client CreateApiClient {
                user: selfcare_core::ids::UserId,
            } -> crate::users::ApiClientSecret = |s, i, _ctx| s.create_api_client(i.user).await;

            /// The address book (ADDR-*).
            session [] addresses Addresses {} -> crate::addresses::AddressBookView
                = |s, _i, _ctx| s.addresses().await;

            /// Adds an address (ADDR-1, ADDR-2).
            session [] add_address AddAddress {
                input: selfcare_core::address::AddressInput,
                usage: selfcare_core::address::AddressUsage,
                make_default: selfcare_core::address::AddressUsage,
                expected_version: Option<u64>,
            } -> crate::addresses::AddedAddress
                = |s, i, _ctx| s.add_address(i.input, i.usage, i.make_default, i.expected_version).await;

            /// Changes an address (ADDR-3, ADDR-4).
            session [] update_address UpdateAddress {
                id: selfcare_core::ids::AddressId,
                input: selfcare_core::address::AddressInput,
                usage: selfcare_core::address::AddressUsage,
                expected_version: Option<u64>,
            } -> crate::addresses::AddressBookView
                = |s, i, _ctx| s.update_address(i.id, i.input, i.usage, i.expected_version).await;

            /// Deletes an address (ADDR-5).
            session [] delete_address DeleteAddress {
                id: selfcare_core::ids::AddressId,
                expected_version: Option<u64>,
            } -> crate::addresses::AddressBookView
                = |s, i, _ctx| s.delete_address(i.id, i.expected_version).await;

            /// Makes an address the default of its kind (ADDR-2).
            session [] set_default SetDefault {
                id: selfcare_core::ids::AddressId,
                kind: selfcare_core::address::AddressKind,
                expected_version: Option<u64>,
            } -> crate::addresses::AddressBookView
                = |s, i, _ctx| s.set_default(i.id, i.kind, i.expected_version).await;

            /// The stored cards (PAY-1).
            session [] cards Cards {} -> Vec<crate::cards::CardView> = |s, _i, _ctx| s.cards().await;

            /// Stores a card from a gateway token (PAY-1, AUTH-5).
            session [] save_card SaveCard {
                token: String,
                holder_name: String,
                captcha: Option<String>,
            } -> crate::cards::CardView
                = |s, i, _ctx| s.save_card(i.token, &i.holder_name, i.captcha).await;

            /// Deletes a card, saying what it turned off (PAY-1).
            session [] delete_card DeleteCard {
                id: selfcare_core::ids::CardId,
            } -> Vec<selfcare_core::payment::CardDeletionConsequence>
                = |s, i, _ctx| s.delete_card(i.id).await;

            /// Charges plans to a card (PAY-2).
            session [] assign_card_to_plans AssignCardToPlans {
                card: selfcare_core::ids::CardId,
                plans: std::collections::BTreeSet<selfcare_core::ids::PlanId>,
            } -> selfcare_core::payment::AssignmentChange
                = |s, i, _ctx| s.assign_card_to_plans(i.card, i.plans).await;

            /// Turns Auto-Top-Up on or off (PAY-3).
            session [] set_auto_top_up SetAutoTopUp {
                target: selfcare_core::payment::AutoTopUpTarget,
                enabled: bool,
            } -> () = |s, i, _ctx| s.set_auto_top_up(i.target, i.enabled).await;

            /// Whether Auto-Top-Up is on for a SIM, and why (PAY-3).
            session [] auto_top_up_state AutoTopUpState {
                sim: selfcare_core::ids::SimId,
            } -> crate::cards::AutoTopUpState = |s, i, _ctx| s.auto_top_up_state(i.sim).await;

            /// A page of orders, newest first (ORD-1).
            session [] orders Orders {
                page: selfcare_storage::PageRequest,
            } -> selfcare_storage::Page<selfcare_core::orders::Order>
                = |s, i, _ctx| s.orders(&i.page).await;

            /// One order (ORD-1).
            session [] order Order {
                number: String,
            } -> selfcare_core::orders::Order = |s, i, _ctx| s.order(&i.number).await;

            /// Places an order, once per idempotency key (ORD-3, ORD-5).
            session [] place_order PlaceOrder {
                request: crate::checkout::PlaceOrder,
                idempotency_key: String,
            } -> selfcare_core::orders::Order
                = |s, i, _ctx| s.place_order(i.request, &i.idempotency_key).await;

            /// Cancels an order (ORD-3).
            session [] cancel_order CancelOrder {
                number: String,
            } -> selfcare_core::orders::Order = |s, i, _ctx| s.cancel_order(&i.number).await;

            /// An order's documents (ORD-2).
            session [] documents Documents {
                number: String,
            } -> crate::orders::OrderDocuments = |s, i, _ctx| s.documents(&i.number).await;

            /// An order's invoice, the file included (ORD-2).
            session [] invoice Invoice {
                number: String,
            } -> crate::orders::DocumentDownload = |s, i, _ctx| s.invoice(&i.number).await;

            /// One additional document of an order, the file included (ORD-2).
            session [] document_bytes DocumentBytes {
                number: String,
                document: selfcare_core::ids::DocumentId,
            } -> crate::orders::DocumentDownload
                = |s, i, _ctx| s.document_bytes(&i.number, i.document).await;

            /// The CSV of an order's SIMs (SIM-3).
            session [manual] export_order_sims ExportOrderSims {
                number: String,
            } -> crate::wire::SimsCsv = |s, i, _ctx| crate::wire::SimsCsv::export(&s, &i.number).await;

            /// A page of SIMs (SIM-1).
            session [] sims Sims {
                #[serde(default)]
                filter: selfcare_storage::sims::SimFilter,
                cursor: Option<selfcare_storage::Cursor>,
            } -> selfcare_storage::Page<selfcare_core::sims::Sim>
                = |s, i, _ctx| s.sims(i.filter, i.cursor).await;

            /// Labels a SIM (SIM-2).
            session [] set_sim_label SetSimLabel {
                sim: selfcare_core::ids::SimId,
                label: String,
            } -> selfcare_core::sims::Sim = |s, i, _ctx| s.set_sim_label(i.sim, &i.label).await;

            /// Enables or disables a SIM (SIM-2).
            session [] set_sim_enabled SetSimEnabled {
                sim: selfcare_core::ids::SimId,
                enabled: bool,
            } -> selfcare_core::sims::Sim = |s, i, _ctx| s.set_sim_enabled(i.sim, i.enabled).await;

            /// The consumer plans (PLAN-1).
            session [] plans Plans {} -> Vec<crate::plans::PlanView> = |s, _i, _ctx| s.plans().await;

            /// Changes a plan's start or end date (PLAN-3).
            session [] change_plan_dates ChangePlanDates {
                plan: selfcare_core::ids::PlanId,
                #[serde(default, with = "selfcare_core::formats::date::option")]
                start: Option<time::Date>,
                #[serde(default, with = "selfcare_core::formats::date::option")]
                end: Option<time::Date>,
            } -> crate::plans::PlanView
                = |s, i, _ctx| s.change_plan_dates(i.plan, i.start, i.end).await;

            /// Swaps a plan's SIM (PLAN-2).
            session [] swap_sim SwapSim {
                plan: selfcare_core::ids::PlanId,
                new_iccid: String,
            } -> crate::plans::ProvisioningStarted
                = |s, i, _ctx| s.swap_sim(i.plan, &i.new_iccid).await;

            /// Voicemail on or off, and its language (PLAN-4).
            session [] set_voicemail SetVoicemail {
                plan: selfcare_core::ids::PlanId,
                enabled: bool,
                language: selfcare_core::plans::VoicemailLanguage,
            } -> Option<crate::plans::ProvisioningStarted>
                = |s, i, _ctx| s.set_voicemail(i.plan, i.enabled, i.language).await;

            /// Forwards calls to a number (PLAN-6).
            session [] set_call_forwarding SetCallForwarding {
                plan: selfcare_core::ids::PlanId,
                to: String,
            } -> Option<crate::plans::ProvisioningStarted>
                = |s, i, _ctx| s.set_call_forwarding(i.plan, &i.to).await;

            /// Stops call forwarding (PLAN-6).
            session [] reset_call_forwarding ResetCallForwarding {
                plan: selfcare_core::ids::PlanId,
            } -> Option<crate::plans::ProvisioningStarted>
                = |s, i, _ctx| s.reset_call_forwarding(i.plan).await;

            /// Sends the APN settings to the plan's device (PLAN-5).
            session [] send_apn_settings SendApnSettings {
                plan: selfcare_core::ids::PlanId,
            } -> () = |s, i, _ctx| s.send_apn_settings(i.plan).await;

            /// A plan's usage this period (PLAN-5).
            session [] plan_usage PlanUsage {
                plan: selfcare_core::ids::PlanId,
            } -> selfcare_core::plans::PlanUsage = |s, i, _ctx| s.plan_usage(i.plan).await;

            /// Tops up SIMs, once per idempotency key (TOP-1).
            session [] top_up TopUp {
                targets: crate::checkout::TopUpTarget,
                product: selfcare_core::catalogue::Sku,
                payment: crate::checkout::Payment,
                idempotency_key: String,
            } -> selfcare_core::orders::Order
                = |s, i, _ctx| s.top_up(i.targets, i.product, i.payment, &i.idempotency_key).await;

            /// A page of the organisation's tickets (TKT-1).
            session [] tickets Tickets {
                status: Option<selfcare_core::tickets::TicketStatus>,
                page: selfcare_storage::PageRequest,
            } -> selfcare_storage::Page<crate::tickets::TicketSummary>
                = |s, i, _ctx| s.tickets(i.status, &i.page).await;

            /// One ticket with its messages (TKT-1).
            session [] ticket Ticket {
                id: selfcare_core::ids::TicketId,
            } -> crate::tickets::TicketView = |s, i, _ctx| s.ticket(i.id).await;

            /// Opens a ticket (TKT-1).
            session [] create_ticket CreateTicket {
                ticket: selfcare_core::tickets::NewTicket,
            } -> crate::tickets::TicketSummary = |s, i, _ctx| s.create_ticket(&i.ticket).await;

            /// Replies to a ticket (TKT-2).
            session [] reply_ticket ReplyTicket {
                id: selfcare_core::ids::TicketId,
                body: String,
            } -> crate::tickets::TicketSummary = |s, i, _ctx| s.reply_ticket(i.id, &i.body).await;

            /// Closes a ticket (TKT-3).
            session [] close_ticket CloseTicket {
                id: selfcare_core::ids::TicketId,
            } -> crate::tickets::TicketSummary = |s, i, _ctx| s.close_ticket(i.id).await;

            /// A page of the organisation's audit log (AUD-1).
            session [] audit_log AuditLog {
                page: selfcare_storage::PageRequest,
            } -> selfcare_storage::Page<selfcare_core::audit::AuditEntry>
                = |s, i, _ctx| s.audit_log(i.page).await;

            // ---------------------------------------------------------------------------------
            // Staff (STF-1): a staff identity the service mapped from its token.
            // ---------------------------------------------------------------------------------
            /// A department's ticket queue.
            staff [] staff_tickets StaffTickets => tickets {
                department: selfcare_core::roles::Department,
                page: selfcare_storage::PageRequest,
            } -> selfcare_storage::Page<selfcare_storage::tickets::StaffQueueEntry>
                = |st, i, _ctx| st.tickets(i.department, &i.page).await;

            /// One ticket with every message, internal notes included.
            staff [] staff_ticket StaffTicket => ticket {
                org: selfcare_core::ids::OrgId,
                id: selfcare_core::ids::TicketId,
            } -> crate::staff::StaffTicketView = |st, i, _ctx| st.ticket(i.org, i.id).await;

            /// Answers a ticket, or writes an internal note (TKT-2).
            staff [] staff_reply_ticket StaffReplyTicket => reply_ticket {
                org: selfcare_core::ids::OrgId,
                id: selfcare_core::ids::TicketId,
                body: String,
                internal: bool,
            } -> crate::tickets::TicketSummary
                = |st, i, _ctx| st.reply_ticket(i.org, i.id, &i.body, i.internal).await;

            /// Moves a ticket through its life cycle (TKT-3).
            staff [] set_ticket_status SetTicketStatus {
                org: selfcare_core::ids::OrgId,
                id: selfcare_core::ids::TicketId,
                event: selfcare_core::tickets::TicketEvent,
            } -> crate::tickets::TicketSummary
                = |st, i, _ctx| st.set_ticket_status(i.org, i.id, i.event).await;

            /// Moves an order through its life cycle (ORD-3).
            staff [] set_order_status SetOrderStatus {
                order_number: String,
                status: selfcare_core::orders::OrderStatus,
            } -> selfcare_core::orders::Order
                = |st, i, _ctx| st.set_order_status(&i.order_number, i.status).await;

            /// Adds a shipment to an order (ORD-4).
            staff [] add_shipment AddShipment {
                order_number: String,
                shipment: crate::staff::NewShipment,
            } -> selfcare_core::orders::Shipment
                = |st, i, _ctx| st.add_shipment(&i.order_number, &i.shipment).await;

            /// Assigns the warehouse's SIMs to an order (SIM-1, SIM-2).
            staff [] assign_sims AssignSims {
                order_number: String,
                rows: Vec<crate::staff::SimRow>,
            } -> crate::staff::AssignedSims
                = |st, i, _ctx| st.assign_sims(&i.order_number, &i.rows).await;

            /// Activates a consumer plan on a SIM of an order (PLAN-1).
            staff [] activate_plan ActivatePlan {
                order_number: String,
                iccid: String,
                numbers: Vec<String>,
                #[serde(with = "selfcare_core::formats::date")]
                start: time::Date,
                #[serde(with = "selfcare_core::formats::date")]
                end: time::Date,
            } -> selfcare_core::plans::Plan
                = |st, i, _ctx| st
                    .activate_plan(&i.order_number, &i.iccid, &i.numbers, i.start, i.end)
                    .await;

            /// Attaches the billing system's invoice to an order (ORD-2).
            staff [] attach_invoice AttachInvoice {
                order_number: String,
                upload: crate::staff::InvoiceUpload,
            } -> selfcare_core::orders::Invoice
                = |st, i, _ctx| st.attach_invoice(&i.order_number, &i.upload).await;

            /// Adds a document correcting an order's invoice (ORD-2).
            staff [] add_document AddDocument {
                order_number: String,
                upload: crate::staff::DocumentUpload,
            } -> selfcare_core::orders::AdditionalDocument
                = |st, i, _ctx| st.add_document(&i.order_number, &i.upload).await;

            /// Refunds (part of) an order with a credit note, once per key (ORD-2).
            staff [] refund Refund {
                order_number: String,
                input: crate::staff::RefundInput,
                idempotency_key: String,
            } -> selfcare_core::orders::AdditionalDocument
                = |st, i, _ctx| st.refund(&i.order_number, &i.input, &i.idempotency_key).await;

            /// Changes a customer's legal fields, with a reason (ACC-1, STF-1).
            staff [] change_legal_fields ChangeLegalFields {
                org: selfcare_core::ids::OrgId,
                company_name: Option<String>,
                billing_country: Option<String>,
                reason: String,
            } -> selfcare_core::customer::Customer
                = |st, i, _ctx| st
                    .change_legal_fields(i.org, i.company_name, i.billing_country, &i.reason)
                    .await;

            /// Approves a user's e-mail change in their stead (USR-3, STF-1).
            staff [] staff_approve_email_change StaffApproveEmailChange => approve_email_change {
                org: selfcare_core::ids::OrgId,
                user: selfcare_core::ids::UserId,
            } -> () = |st, i, _ctx| st.approve_email_change(i.org, i.user).await;

            /// Changes or removes an Owner (USR-3, STF-1).
            staff [] administer_owner AdministerOwner {
                org: selfcare_core::ids::OrgId,
                user: selfcare_core::ids::UserId,
                change: crate::staff::OwnerChange,
            } -> () = |st, i, _ctx| st.administer_owner(i.org, i.user, i.change).await;

            /// The head of an audit chain (AUD-1).
            staff_portal [] audit_head AuditHead {
                chain: crate::audit::AuditChainOf,
            } -> selfcare_core::audit::ChainHead = |p, i, _ctx| p.audit_head(i.chain).await;

            /// Verifies an audit chain, optionally against an anchor (AUD-1).
            staff_portal [] verify_audit_chain VerifyAuditChain {
                chain: crate::audit::AuditChainOf,
                anchor: Option<selfcare_core::audit::ChainHead>,
            } -> crate::audit::ChainVerification
                = |p, i, _ctx| p.verify_audit_chain(i.chain, i.anchor).await;
        }
    };
}

pub(crate) use for_each_operation;
