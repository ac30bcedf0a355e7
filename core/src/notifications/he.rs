//! Built-in Hebrew texts (ACC-4). Customer-facing texts address the organisation in the plural,
//! user-facing texts use forms that read the same for every gender.

use super::NotificationKind::{self, *};

/// Subject and body template of `kind` in Hebrew.
pub(super) const fn text(kind: NotificationKind) -> (&'static str, &'static str) {
    match kind {
        InvoiceIssued => (
            "הופקה חשבונית {invoice_number}",
            "שלום {customer_name},\n\nחשבונית {invoice_number} עבור הזמנה {order_number} מוכנה. סכום: {amount}, לתשלום עד {due_date}.\n\nניתן לצפות בה ולהוריד אותה כאן: {link}\n\nתודה שבחרתם בנו.",
        ),
        DocumentAdded => (
            "מסמך חדש להזמנה {order_number}",
            "שלום {customer_name},\n\nמסמך חדש, \"{document_name}\", נוסף להזמנה {order_number}.\n\nניתן לצפות בו כאן: {link}",
        ),
        OrderStatusChanged => (
            "הזמנה {order_number}: {status}",
            "שלום {customer_name},\n\nהסטטוס של הזמנה {order_number} עודכן: {status}.\n\nפרטים נוספים: {link}",
        ),
        ShipmentSent => (
            "הזמנה {order_number} בדרך אליכם",
            "שלום {customer_name},\n\nהזמנה {order_number} נשלחה באמצעות {carrier}. מספר משלוח: {tracking_number}.\n\nלמעקב אחר המשלוח: {tracking_link}",
        ),
        VolumeThresholdReached => (
            "נותרו רק {percent_left}% מהנפח בכרטיס ה-SIM {sim_label}",
            "שלום {customer_name},\n\nבכרטיס ה-SIM {sim_label} (ICCID {iccid}) נותרו רק {percent_left}% מהנפח: {remaining} מתוך {allowance}.\n\nכדי למנוע הפסקה בשירות, ניתן לבצע טעינה כאן: {link}",
        ),
        VolumeExhausted => (
            "הנפח בכרטיס ה-SIM {sim_label} נוצל במלואו",
            "שלום {customer_name},\n\nכרטיס ה-SIM {sim_label} (ICCID {iccid}) ניצל את כל הנפח שלו, {allowance}. הגלישה או שליחת ה-SMS בכרטיס זה מושהות עד לטעינה נוספת או לחידוש הנפח.\n\nלטעינה עכשיו: {link}",
        ),
        MonthlyLimitReached => (
            "הגעתם למגבלת הנפח החודשית",
            "שלום {customer_name},\n\nהארגון שלכם הגיע למגבלת הנפח החודשית של {limit}. עד לאיפוס המגבלה ב-{reset_date}, כרטיסי ה-SIM שלכם לא ינצלו נפח נוסף מסוג זה.\n\nניתן לבדוק את המגבלה או להגדיל אותה כאן: {link}",
        ),
        AutoTopUpCharged => (
            "טעינה אוטומטית: חיוב של {amount} עבור כרטיס ה-SIM {sim_label}",
            "שלום {customer_name},\n\nהטעינה האוטומטית הוסיפה {product} לכרטיס ה-SIM {sim_label} (ICCID {iccid}). כרטיס האשראי שלכם המסתיים ב-{card_last4} חויב בסך {amount}.",
        ),
        AutoTopUpFailed => (
            "הטעינה האוטומטית של כרטיס ה-SIM {sim_label} נכשלה",
            "שלום {customer_name},\n\nלא הצלחנו לחייב את כרטיס האשראי המסתיים ב-{card_last4} בסך {amount} עבור טעינה אוטומטית של {product} לכרטיס ה-SIM {sim_label} (ICCID {iccid}). הכרטיס לא נטען.\n\nנא לבדוק את פרטי התשלום: {link}",
        ),
        SimSwapCompleted => (
            "החלפת ה-SIM למספר {phone_number} הושלמה",
            "שלום {customer_name},\n\nהחלפת כרטיס ה-SIM עבור המספר {phone_number} הושלמה. המספר פעיל כעת בכרטיס ה-SIM {new_iccid}, והכרטיס הקודם כבר אינו פועל.\n\nלעזרה ניתן לפנות לשירות הלקוחות שלנו.",
        ),
        SimSwapFailed => (
            "החלפת ה-SIM למספר {phone_number} נכשלה",
            "שלום {customer_name},\n\nלצערנו לא ניתן היה להשלים את החלפת כרטיס ה-SIM עבור המספר {phone_number} לכרטיס {new_iccid}. כרטיס ה-SIM הקודם שלכם נשאר פעיל.\n\nנא לנסות שוב או לפנות לשירות הלקוחות: {link}",
        ),
        ApnSettings => (
            "הגדרות APN עבור {phone_number}",
            "שלום {customer_name},\n\nאם הגלישה הסלולרית אינה פועלת במספר {phone_number}, יש להגדיר במכשיר את נקודת הגישה (APN) הבאה:\n\nAPN: {apn}\n\nאת שאר שדות ה-APN יש להשאיר ריקים או בערכי ברירת המחדל, ולאחר מכן להפעיל מחדש את המכשיר.",
        ),
        PasswordReset => (
            "איפוס סיסמה",
            "שלום {user_name},\n\nקיבלנו בקשה לאפס את הסיסמה של החשבון שלך. כדי לבחור סיסמה חדשה, יש לפתוח את הקישור הבא בתוך {valid_hours} שעות:\n\n{link}\n\nאם לא ביקשת זאת, אפשר להתעלם מהודעה זו, והסיסמה שלך לא תשתנה.",
        ),
        EmailConfirmation => (
            "נא לאשר את כתובת הדוא״ל שלך",
            "שלום {user_name},\n\nנא לאשר את כתובת הדוא״ל שלך באמצעות פתיחת הקישור הבא בתוך {valid_hours} שעות:\n\n{link}\n\nאם לא פתחת חשבון אצלנו ולא שינית חשבון קיים, אפשר להתעלם מהודעה זו.",
        ),
        EmailChangeNotice => (
            "כתובת הדוא״ל של החשבון שלך משתנה",
            "שלום {user_name},\n\nהתקבלה בקשה לשנות את כתובת הדוא״ל של החשבון שלך ל-{new_email}. לאחר אישור הכתובת החדשה, ההודעות יישלחו אליה בלבד.\n\nאם לא ביקשת את השינוי הזה, נא לפנות מיד לשירות הלקוחות שלנו.",
        ),
        NewLogin => (
            "כניסה חדשה לחשבון שלך",
            "שלום {user_name},\n\nב-{login_time} בוצעה כניסה לחשבון שלך ממקור חדש:\n\nמיקום/IP: {source}\nמכשיר: {device}\n\nאם הכניסה בוצעה על ידך, אין צורך לעשות דבר. אחרת, נא לשנות את הסיסמה מיד: {link}",
        ),
        TicketReply => (
            "תגובה חדשה לפנייה {ticket_number}: {ticket_subject}",
            "שלום {user_name},\n\nהתקבלה תגובה חדשה לפניית התמיכה {ticket_number} \"{ticket_subject}\".\n\nלקריאה ולמענה: {link}",
        ),
    }
}
