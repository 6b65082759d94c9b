//! Values between a common field and the hub field under it, when their types or date formats
//! differ: an organization's `birthDate` (a date) mapped onto a hub text field holding
//! `dd/MM/yyyy`, its `createdAt` (a number of milliseconds) onto a hub date, its `phone` (text)
//! onto a hub number.
//!
//! A [`Conversion`] sits on the composed field's [`crate::FieldDef`]: [`crate::read`] converts the
//! vendor's value to the hub type and then to the common one ([`Conversion::to_common`]);
//! [`crate::write`] converts the client's value to the hub one ([`Conversion::to_hub`]) and then
//! checks and writes it as it does any hub value. Which types may be mapped onto which
//! ([`Conversion::compatible`]) is decided here; building the composed definition is not.

use serde_json::{Number, Value};

use crate::date_format::DateFormat;
use crate::definition::FieldType;

/// The side of a date conversion that gives no format writes ISO 8601.
static ISO: DateFormat = DateFormat::Iso8601;

/// How a common field's values differ from the hub field under it.
///
/// Dates are converted when either side is a `date`, or when a format is given (a hub text field
/// holding `dd/MM/yyyy` shown as an ISO 8601 text field); a side without a format is ISO 8601. Hub
/// `date` fields are ISO 8601, so `hub_format` is for a hub text field (its mask) or number (an
/// epoch format); `format` likewise for the common field (ISO 8601 when not given).
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The hub field's type: what the vendor's value is read as and what a write must produce.
    pub hub_type: FieldType,
    /// How the hub field holds a date, when it holds one as text or a number.
    pub hub_format: Option<DateFormat>,
    /// How the common field shows a date.
    pub format: Option<DateFormat>,
}

impl Conversion {
    /// Whether a common field of type `common` may be mapped onto a hub field of type `hub` (the
    /// rest are type clashes): the same type always; text to and from anything; a date to and from
    /// a number only when the number side's `format` (the one format the mapping gives) counts
    /// from the epoch; never a number or a date to and from a boolean.
    pub fn compatible(common: FieldType, hub: FieldType, format: Option<&DateFormat>) -> bool {
        use FieldType::{Boolean, Date, Number, String};
        match (common, hub) {
            (String, _) | (_, String) | (Number, Number) | (Boolean, Boolean) | (Date, Date) => true,
            (Date, Number) | (Number, Date) => format.is_some_and(DateFormat::is_epoch),
            (Number | Date, Boolean) | (Boolean, Number | Date) => false,
        }
    }

    /// Whether values pass unchanged (the same type, and no formats or the same on both sides,
    /// ISO 8601 when not given): a condition on the field can then be pushed down to the vendor as
    /// the hub field's is, and the vendor can sort by it.
    pub fn is_identity(&self, common: FieldType) -> bool {
        self.hub_type == common && self.hub_side() == self.common_side()
    }

    /// The common value of type `common` for the hub value `hub_value` (already of the hub type,
    /// as [`crate::read`] makes it). `null` stays `null`; a value that does not convert is kept as
    /// it is, so that clients see the data rather than a silent null.
    pub fn to_common(&self, common: FieldType, hub_value: Value) -> Value {
        if hub_value.is_null() || self.is_identity(common) {
            return hub_value;
        }
        if self.converts_dates(common) {
            let Some(instant) = self.hub_side().read(&hub_value) else { return hub_value };
            let written = self.common_side().write(instant);
            // An epoch is a number whatever the common type says (a `date` shown in milliseconds).
            if self.common_side().is_epoch() {
                return written;
            }
            return as_type(common, &written).unwrap_or(hub_value);
        }
        as_type(common, &hub_value).unwrap_or(hub_value)
    }

    /// The hub field's value for the common value `value`, as a client wrote it for a field of
    /// type `common`. `null` stays `null`. The error is what was expected ("a date in the format
    /// dd/MM/yyyy", "a number", "true or false"), for the message naming the field.
    pub fn to_hub(&self, common: FieldType, value: &Value) -> Result<Value, String> {
        if value.is_null() || self.is_identity(common) {
            return Ok(value.clone());
        }
        if self.converts_dates(common) {
            let side = self.common_side();
            let instant = side.read(value).ok_or_else(|| side.expected())?;
            let written = self.hub_side().write(instant);
            return Ok(as_type(self.hub_type, &written).unwrap_or(written));
        }
        let given = client_value(common, value).ok_or_else(|| expected(common).to_string())?;
        as_type(self.hub_type, &given).ok_or_else(|| expected(self.hub_type).to_string())
    }

    fn converts_dates(&self, common: FieldType) -> bool {
        common == FieldType::Date
            || self.hub_type == FieldType::Date
            || self.hub_format.is_some()
            || self.format.is_some()
    }

    fn hub_side(&self) -> &DateFormat {
        self.hub_format.as_ref().unwrap_or(&ISO)
    }

    fn common_side(&self) -> &DateFormat {
        self.format.as_ref().unwrap_or(&ISO)
    }
}

/// `value` as `field_type`, when it is one or is text of one (`"12"`, `"yes"`), or is a number or
/// boolean wanted as text; `None` otherwise. A date is text here: which text is the formats' work.
fn as_type(field_type: FieldType, value: &Value) -> Option<Value> {
    match (field_type, value) {
        (FieldType::String | FieldType::Date, Value::String(_))
        | (FieldType::Number, Value::Number(_))
        | (FieldType::Boolean, Value::Bool(_)) => Some(value.clone()),
        (FieldType::String, Value::Number(number)) => Some(Value::String(number_text(number))),
        (FieldType::String, Value::Bool(flag)) => Some(Value::String(flag.to_string())),
        (FieldType::Number, Value::String(text)) => number(text),
        (FieldType::Boolean, Value::String(text)) => flag(text).map(Value::Bool),
        _ => None,
    }
}

/// A client's value for a field of type `field_type`, taken as the hub takes one (see
/// [`crate::write`]): text for text, a boolean for a boolean, a number or its text for a number.
fn client_value(field_type: FieldType, value: &Value) -> Option<Value> {
    match (field_type, value) {
        (FieldType::String, Value::String(_)) | (FieldType::Boolean, Value::Bool(_)) => Some(value.clone()),
        (FieldType::Number, Value::Number(_) | Value::String(_)) => as_type(field_type, value),
        _ => None,
    }
}

/// What a value of `field_type` looks like, for an error.
fn expected(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::String => "a string",
        FieldType::Number => "a number",
        FieldType::Boolean => "true or false",
        FieldType::Date => "an ISO 8601 date-time string",
    }
}

/// A boolean from text: `true`/`false`, `yes`/`no`, `1`/`0`, in any case.
fn flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A JSON number from text: an integer when it is a whole number (`12`, `12.0`, `1e3`), else a
/// finite decimal; `None` for anything else (`NaN` and infinities included).
pub(crate) fn number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Value::Number(integer.into()));
    }
    let decimal = text.parse::<f64>().ok()?;
    if decimal.fract() == 0.0 && decimal.abs() < MAX_EXACT_INTEGER {
        return Some(Value::from(decimal as i64));
    }
    Number::from_f64(decimal).map(Value::Number)
}

/// 2^53: below it every whole `f64` is an exact integer.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// A number as text, a whole number without a fraction part even when written with one (`1.0` is
/// `1`; JSON has one number type).
pub(crate) fn number_text(number: &Number) -> String {
    match number.as_f64() {
        Some(value) if number.is_f64() && value.fract() == 0.0 && value.abs() < MAX_EXACT_INTEGER => {
            format!("{value:.0}")
        }
        _ => number.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use FieldType::{Boolean, Date, Number as Num, String as Text};

    fn mask(text: &str) -> Option<DateFormat> {
        Some(DateFormat::parse(text).unwrap())
    }

    fn conversion(hub_type: FieldType, hub_format: Option<DateFormat>, format: Option<DateFormat>) -> Conversion {
        Conversion { hub_type, hub_format, format }
    }

    #[test]
    fn the_type_compatibility_table() {
        let epoch = mask("epochMilliseconds");
        let pattern = mask("dd/MM/yyyy");
        let types = [Text, Num, Boolean, Date];
        // Rows: common type; columns: hub type (string, number, boolean, date), without a format.
        let table = [
            [true, true, true, true],   // string
            [true, true, false, false], // number
            [true, false, true, false], // boolean
            [true, false, false, true], // date
        ];
        for (common, row) in types.iter().zip(table) {
            for (hub, allowed) in types.iter().zip(row) {
                assert_eq!(Conversion::compatible(*common, *hub, None), allowed, "{common:?} on {hub:?}");
            }
        }
        assert!(Conversion::compatible(Date, Num, epoch.as_ref()), "an epoch number holds a date");
        assert!(Conversion::compatible(Num, Date, epoch.as_ref()), "and a date can be shown as one");
        assert!(!Conversion::compatible(Date, Num, pattern.as_ref()), "a pattern is text, not a number");
        assert!(!Conversion::compatible(Boolean, Num, epoch.as_ref()));
        assert!(Conversion::compatible(Date, Text, pattern.as_ref()));
    }

    #[test]
    fn identity_is_the_same_type_with_no_or_equal_formats() {
        assert!(conversion(Text, None, None).is_identity(Text));
        assert!(conversion(Date, None, mask("iso8601")).is_identity(Date), "ISO 8601 is the default");
        assert!(!conversion(Text, None, None).is_identity(Num));
        assert!(!conversion(Text, mask("dd/MM/yyyy"), None).is_identity(Text), "text re-dated as ISO 8601");
        assert!(!conversion(Num, mask("epochSeconds"), mask("epochMilliseconds")).is_identity(Num));
    }

    #[test]
    fn a_hub_text_date_in_a_pattern_is_a_common_iso_date_both_ways() {
        let birthday = conversion(Text, mask("dd/MM/yyyy"), None);
        assert_eq!(birthday.to_common(Date, json!("04/03/2026")), json!("2026-03-04T00:00:00Z"));
        assert_eq!(birthday.to_common(Date, json!("someday")), json!("someday"), "kept when it is no date");
        assert_eq!(birthday.to_common(Date, Value::Null), Value::Null);
        assert_eq!(birthday.to_hub(Date, &json!("2026-03-04T22:00:00Z")), Ok(json!("04/03/2026")));
        assert_eq!(birthday.to_hub(Date, &json!("2026-03-04T23:30:00-02:00")), Ok(json!("05/03/2026")), "in UTC");
        assert_eq!(birthday.to_hub(Date, &json!("04/03/2026")), Err("an ISO 8601 date-time string".into()));
        assert_eq!(birthday.to_hub(Date, &json!(1772600767)), Err("an ISO 8601 date-time string".into()));
        assert_eq!(birthday.to_hub(Date, &Value::Null), Ok(Value::Null));
    }

    #[test]
    fn a_hub_date_shown_in_the_common_fields_pattern_is_read_and_written_in_it() {
        let shown = conversion(Date, None, mask("dd/MM/yyyy HH:mm"));
        assert_eq!(shown.to_common(Text, json!("2026-03-04T05:06:07Z")), json!("04/03/2026 05:06"));
        assert_eq!(shown.to_hub(Text, &json!("04/03/2026 05:06")), Ok(json!("2026-03-04T05:06:00Z")));
        assert_eq!(shown.to_hub(Text, &json!("2026-03-04")), Err("a date in the format dd/MM/yyyy HH:mm".into()));
    }

    #[test]
    fn epoch_numbers_and_dates_convert_both_ways_in_their_unit() {
        let seconds = conversion(Num, mask("epochSeconds"), None);
        assert_eq!(seconds.to_common(Date, json!(1772600767)), json!("2026-03-04T05:06:07Z"));
        assert_eq!(seconds.to_hub(Date, &json!("2026-03-04T05:06:07.900Z")), Ok(json!(1772600767)));
        let millis = conversion(Num, mask("epochMilliseconds"), None);
        assert_eq!(millis.to_common(Date, json!(1772600767900i64)), json!("2026-03-04T05:06:07.900Z"));
        assert_eq!(millis.to_hub(Date, &json!("2026-03-04T05:06:07.900Z")), Ok(json!(1772600767900i64)));
        assert_eq!(millis.to_hub(Date, &json!("tomorrow")), Err("an ISO 8601 date-time string".into()));
        let shown_as_millis = conversion(Date, None, mask("epochMilliseconds"));
        assert_eq!(shown_as_millis.to_common(Num, json!("2026-03-04T05:06:07Z")), json!(1772600767000i64));
        assert_eq!(shown_as_millis.to_hub(Num, &json!(1772600767000i64)), Ok(json!("2026-03-04T05:06:07Z")));
        assert_eq!(
            shown_as_millis.to_hub(Num, &json!("soon")),
            Err("a number of milliseconds since 1970-01-01T00:00:00Z".into())
        );
        let text_epoch = conversion(Text, mask("epochSeconds"), None);
        assert_eq!(text_epoch.to_hub(Date, &json!("2026-03-04T05:06:07Z")), Ok(json!("1772600767")), "as hub text");
        assert_eq!(text_epoch.to_common(Date, json!("1772600767")), json!("2026-03-04T05:06:07Z"));
    }

    #[test]
    fn numbers_convert_to_and_from_text() {
        let phone = conversion(Num, None, None);
        assert_eq!(phone.to_common(Text, json!(5551234)), json!("5551234"));
        assert_eq!(phone.to_common(Text, json!(2.5)), json!("2.5"));
        assert_eq!(phone.to_hub(Text, &json!("5551234")), Ok(json!(5551234)));
        assert_eq!(phone.to_hub(Text, &json!(" 2.50 ")), Ok(json!(2.5)));
        assert_eq!(phone.to_hub(Text, &json!("12.0")), Ok(json!(12)), "whole numbers are integers");
        assert_eq!(phone.to_hub(Text, &json!("1e3")), Ok(json!(1000)));
        for bad in ["555-1234", "NaN", "inf", "", "1e999"] {
            assert_eq!(phone.to_hub(Text, &json!(bad)), Err("a number".into()), "{bad}");
        }
        assert_eq!(phone.to_hub(Text, &json!(5)), Err("a string".into()), "the common field is text");
        let count = conversion(Text, None, None);
        assert_eq!(count.to_common(Num, json!("42")), json!(42));
        assert_eq!(count.to_common(Num, json!("forty")), json!("forty"), "kept when it is no number");
        assert_eq!(count.to_hub(Num, &json!(42)), Ok(json!("42")));
        assert_eq!(count.to_hub(Num, &json!(42.0)), Ok(json!("42")));
        assert_eq!(count.to_hub(Num, &json!("42")), Ok(json!("42")), "numeric text is a number, as the hub takes it");
        assert_eq!(count.to_hub(Num, &json!(true)), Err("a number".into()));
    }

    #[test]
    fn booleans_convert_to_and_from_text() {
        let flag_text = conversion(Text, None, None);
        for (text, value) in [("true", true), ("FALSE", false), ("Yes", true), ("no", false), ("1", true), ("0", false)]
        {
            assert_eq!(flag_text.to_common(Boolean, json!(text)), json!(value), "{text}");
        }
        assert_eq!(flag_text.to_common(Boolean, json!("maybe")), json!("maybe"));
        assert_eq!(flag_text.to_hub(Boolean, &json!(true)), Ok(json!("true")));
        assert_eq!(flag_text.to_hub(Boolean, &json!("yes")), Err("true or false".into()));
        let hub_flag = conversion(Boolean, None, None);
        assert_eq!(hub_flag.to_common(Text, json!(false)), json!("false"));
        assert_eq!(hub_flag.to_hub(Text, &json!("No")), Ok(json!(false)));
        assert_eq!(hub_flag.to_hub(Text, &json!("perhaps")), Err("true or false".into()));
    }

    #[test]
    fn an_identity_passes_values_unchanged() {
        let same = conversion(Date, None, None);
        assert_eq!(same.to_common(Date, json!("2026-03-04T05:06:07.123456Z")), json!("2026-03-04T05:06:07.123456Z"));
        assert_eq!(same.to_hub(Date, &json!("whatever")), Ok(json!("whatever")), "the hub's own checks follow");
    }
}
