//! Built-in English texts (ACC-4). English is the fallback for every other language.

use super::NotificationKind::{self, *};

/// Subject and body template of `kind` in English.
pub(super) const fn text(kind: NotificationKind) -> (&'static str, &'static str) {
    match kind {
        InvoiceIssued => (
            "Your invoice {invoice_number}",
            "Hello {customer_name},\n\nYour invoice {invoice_number} for order {order_number} is ready. Amount: {amount}, due on {due_date}.\n\nYou can view and download it here: {link}\n\nThank you for your business.",
        ),
        DocumentAdded => (
            "New document for order {order_number}",
            "Hello {customer_name},\n\nA new document, \"{document_name}\", has been added to your order {order_number}.\n\nYou can view it here: {link}",
        ),
        OrderStatusChanged => (
            "Order {order_number}: {status}",
            "Hello {customer_name},\n\nThe status of your order {order_number} has changed to: {status}.\n\nDetails: {link}",
        ),
        ShipmentSent => (
            "Your order {order_number} is on its way",
            "Hello {customer_name},\n\nWe have shipped your order {order_number} with {carrier}. Tracking number: {tracking_number}.\n\nTrack your shipment: {tracking_link}",
        ),
        VolumeThresholdReached => (
            "Only {percent_left}% of the volume of SIM {sim_label} is left",
            "Hello {customer_name},\n\nOnly {percent_left}% of the volume of the SIM {sim_label} (ICCID {iccid}) is left: {remaining} of {allowance}.\n\nTo avoid an interruption, you can top up here: {link}",
        ),
        VolumeExhausted => (
            "Volume used up on SIM {sim_label}",
            "Hello {customer_name},\n\nThe SIM {sim_label} (ICCID {iccid}) has used up its entire volume of {allowance}. Data or SMS on this SIM is paused until you top up or the volume renews.\n\nTop up now: {link}",
        ),
        MonthlyLimitReached => (
            "Monthly volume limit reached",
            "Hello {customer_name},\n\nYour organisation has reached its monthly volume limit of {limit}. Until the limit resets on {reset_date}, your SIMs will not use any further volume of this kind.\n\nYou can review or raise the limit here: {link}",
        ),
        AutoTopUpCharged => (
            "Auto-Top-Up: {amount} charged for SIM {sim_label}",
            "Hello {customer_name},\n\nAuto-Top-Up has added {product} to the SIM {sim_label} (ICCID {iccid}). We have charged {amount} to your card ending in {card_last4}.",
        ),
        AutoTopUpFailed => (
            "Auto-Top-Up failed for SIM {sim_label}",
            "Hello {customer_name},\n\nWe could not charge {amount} to your card ending in {card_last4} for the Auto-Top-Up of {product} on the SIM {sim_label} (ICCID {iccid}). The SIM has not been topped up.\n\nPlease check your payment details: {link}",
        ),
        SimSwapCompleted => (
            "SIM swap completed for {phone_number}",
            "Hello {customer_name},\n\nThe SIM swap for the number {phone_number} is complete. The number is now active on the SIM card {new_iccid}; the previous SIM card no longer works.\n\nIf you need help, please contact our support.",
        ),
        SimSwapFailed => (
            "SIM swap for {phone_number} failed",
            "Hello {customer_name},\n\nUnfortunately, the SIM swap for the number {phone_number} to the SIM card {new_iccid} could not be completed. Your previous SIM card stays active.\n\nPlease try again or contact our support: {link}",
        ),
        ApnSettings => (
            "APN settings for {phone_number}",
            "Hello {customer_name},\n\nIf mobile data is not working on {phone_number}, please set the following access point name (APN) on your device:\n\nAPN: {apn}\n\nLeave all other APN fields empty or at their defaults, then restart the device.",
        ),
        PasswordReset => (
            "Reset your password",
            "Hello {user_name},\n\nWe received a request to reset the password of your account. To choose a new password, open this link within {valid_hours} hours:\n\n{link}\n\nIf you did not ask for this, you can ignore this e-mail; your password stays unchanged.",
        ),
        EmailConfirmation => (
            "Please confirm your e-mail address",
            "Hello {user_name},\n\nPlease confirm your e-mail address by opening this link within {valid_hours} hours:\n\n{link}\n\nIf you did not create or change an account with us, you can ignore this e-mail.",
        ),
        EmailChangeNotice => (
            "The e-mail address of your account is being changed",
            "Hello {user_name},\n\nA change of your account's e-mail address to {new_email} has been requested. Once the new address is confirmed, messages will go only to it.\n\nIf you did not request this change, please contact our support immediately.",
        ),
        NewLogin => (
            "New sign-in to your account",
            "Hello {user_name},\n\nYour account was signed in to on {login_time} from a new source:\n\nLocation/IP: {source}\nDevice: {device}\n\nIf this was you, there is nothing to do. If not, please change your password right away: {link}",
        ),
        TicketReply => (
            "New reply to your ticket {ticket_number}: {ticket_subject}",
            "Hello {user_name},\n\nThere is a new reply to your support ticket {ticket_number} \"{ticket_subject}\".\n\nRead and answer it here: {link}",
        ),
    }
}
