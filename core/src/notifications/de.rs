//! Built-in German texts (ACC-4), in the formal "Sie" form customary for business mail.

use super::NotificationKind::{self, *};

/// Subject and body template of `kind` in German.
pub(super) const fn text(kind: NotificationKind) -> (&'static str, &'static str) {
    match kind {
        InvoiceIssued => (
            "Ihre Rechnung {invoice_number}",
            "Guten Tag {customer_name},\n\nIhre Rechnung {invoice_number} zur Bestellung {order_number} steht bereit. Betrag: {amount}, fällig am {due_date}.\n\nSie können sie hier ansehen und herunterladen: {link}\n\nVielen Dank für Ihren Auftrag.",
        ),
        DocumentAdded => (
            "Neues Dokument zur Bestellung {order_number}",
            "Guten Tag {customer_name},\n\nzu Ihrer Bestellung {order_number} wurde ein neues Dokument hinzugefügt: „{document_name}“.\n\nSie finden es hier: {link}",
        ),
        OrderStatusChanged => (
            "Bestellung {order_number}: {status}",
            "Guten Tag {customer_name},\n\nder Status Ihrer Bestellung {order_number} hat sich geändert: {status}.\n\nDetails: {link}",
        ),
        ShipmentSent => (
            "Ihre Bestellung {order_number} ist unterwegs",
            "Guten Tag {customer_name},\n\nwir haben Ihre Bestellung {order_number} mit {carrier} versendet. Sendungsnummer: {tracking_number}.\n\nSendung verfolgen: {tracking_link}",
        ),
        VolumeThresholdReached => (
            "Nur noch {percent_left} % des Volumens der SIM {sim_label} verfügbar",
            "Guten Tag {customer_name},\n\nder SIM {sim_label} (ICCID {iccid}) stehen nur noch {percent_left} % ihres Volumens zur Verfügung: {remaining} von {allowance}.\n\nDamit es zu keiner Unterbrechung kommt, können Sie hier aufladen: {link}",
        ),
        VolumeExhausted => (
            "Volumen der SIM {sim_label} aufgebraucht",
            "Guten Tag {customer_name},\n\ndie SIM {sim_label} (ICCID {iccid}) hat ihr gesamtes Volumen von {allowance} aufgebraucht. Daten bzw. SMS sind auf dieser SIM pausiert, bis Sie aufladen oder sich das Volumen erneuert.\n\nJetzt aufladen: {link}",
        ),
        MonthlyLimitReached => (
            "Monatliches Volumenlimit erreicht",
            "Guten Tag {customer_name},\n\nIhre Organisation hat ihr monatliches Volumenlimit von {limit} erreicht. Bis das Limit am {reset_date} zurückgesetzt wird, verbrauchen Ihre SIMs kein weiteres Volumen dieser Art.\n\nSie können das Limit hier prüfen oder erhöhen: {link}",
        ),
        AutoTopUpCharged => (
            "Auto-Top-Up: {amount} für SIM {sim_label} belastet",
            "Guten Tag {customer_name},\n\nAuto-Top-Up hat der SIM {sim_label} (ICCID {iccid}) {product} hinzugefügt. Ihre Karte mit der Endung {card_last4} wurde mit {amount} belastet.",
        ),
        AutoTopUpFailed => (
            "Auto-Top-Up für SIM {sim_label} fehlgeschlagen",
            "Guten Tag {customer_name},\n\nfür das Auto-Top-Up von {product} auf der SIM {sim_label} (ICCID {iccid}) konnten wir Ihre Karte mit der Endung {card_last4} nicht mit {amount} belasten. Die SIM wurde nicht aufgeladen.\n\nBitte prüfen Sie Ihre Zahlungsdaten: {link}",
        ),
        SimSwapCompleted => (
            "SIM-Tausch für {phone_number} abgeschlossen",
            "Guten Tag {customer_name},\n\nder SIM-Tausch für die Rufnummer {phone_number} ist abgeschlossen. Die Nummer ist jetzt auf der SIM-Karte {new_iccid} aktiv; die bisherige SIM-Karte funktioniert nicht mehr.\n\nWenn Sie Hilfe benötigen, wenden Sie sich bitte an unseren Support.",
        ),
        SimSwapFailed => (
            "SIM-Tausch für {phone_number} fehlgeschlagen",
            "Guten Tag {customer_name},\n\nleider konnte der SIM-Tausch für die Rufnummer {phone_number} auf die SIM-Karte {new_iccid} nicht abgeschlossen werden. Ihre bisherige SIM-Karte bleibt aktiv.\n\nBitte versuchen Sie es erneut oder wenden Sie sich an unseren Support: {link}",
        ),
        ApnSettings => (
            "APN-Einstellungen für {phone_number}",
            "Guten Tag {customer_name},\n\nfalls mobile Daten unter {phone_number} nicht funktionieren, stellen Sie auf Ihrem Gerät bitte den folgenden Zugangspunkt (APN) ein:\n\nAPN: {apn}\n\nLassen Sie alle anderen APN-Felder leer bzw. auf den Standardwerten und starten Sie das Gerät anschließend neu.",
        ),
        PasswordReset => (
            "Passwort zurücksetzen",
            "Guten Tag {user_name},\n\nwir haben eine Anfrage erhalten, das Passwort Ihres Kontos zurückzusetzen. Um ein neues Passwort zu wählen, öffnen Sie bitte innerhalb von {valid_hours} Stunden diesen Link:\n\n{link}\n\nFalls Sie das nicht angefordert haben, können Sie diese E-Mail ignorieren; Ihr Passwort bleibt unverändert.",
        ),
        EmailConfirmation => (
            "Bitte bestätigen Sie Ihre E-Mail-Adresse",
            "Guten Tag {user_name},\n\nbitte bestätigen Sie Ihre E-Mail-Adresse, indem Sie innerhalb von {valid_hours} Stunden diesen Link öffnen:\n\n{link}\n\nFalls Sie bei uns kein Konto angelegt oder geändert haben, können Sie diese E-Mail ignorieren.",
        ),
        EmailChangeNotice => (
            "Die E-Mail-Adresse Ihres Kontos wird geändert",
            "Guten Tag {user_name},\n\nfür Ihr Konto wurde eine Änderung der E-Mail-Adresse auf {new_email} angefordert. Sobald die neue Adresse bestätigt ist, gehen Nachrichten nur noch dorthin.\n\nFalls Sie diese Änderung nicht angefordert haben, wenden Sie sich bitte umgehend an unseren Support.",
        ),
        NewLogin => (
            "Neue Anmeldung bei Ihrem Konto",
            "Guten Tag {user_name},\n\nam {login_time} gab es eine Anmeldung bei Ihrem Konto von einer neuen Quelle:\n\nOrt/IP: {source}\nGerät: {device}\n\nWenn Sie das waren, ist nichts weiter zu tun. Andernfalls ändern Sie bitte sofort Ihr Passwort: {link}",
        ),
        TicketReply => (
            "Neue Antwort auf Ihr Ticket {ticket_number}: {ticket_subject}",
            "Guten Tag {user_name},\n\nauf Ihr Support-Ticket {ticket_number} „{ticket_subject}“ gibt es eine neue Antwort.\n\nHier können Sie sie lesen und beantworten: {link}",
        ),
    }
}
