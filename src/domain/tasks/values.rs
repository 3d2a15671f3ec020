//! Field values as initiators type them (a page form's JSON or a sheet's
//! cells) turned into the one text each field stores: dates as
//! `YYYY-MM-DD`, money with two decimals, phones and ID numbers checked.
//! Errors are messages for a row error.

use chrono::NaiveDate;

use crate::db::enums::FieldType;
use crate::domain::accounts::phone::parse_phone;
use crate::domain::identity_numbers::resident_id_valid;
use crate::pdf::fill::{DATE_FORMATS, format_date};

pub const MAX_TEXT_CHARS: usize = 500;

/// A value as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    /// A JSON or spreadsheet number.
    Number(f64),
    /// A spreadsheet date cell.
    Date(NaiveDate),
    /// A spreadsheet error (#N/A, #DIV/0!, ...): never a value.
    Error,
}

impl Cell {
    /// From a JSON value; None for null, Err for arrays, objects, booleans.
    pub fn from_json(value: &serde_json::Value) -> Result<Option<Cell>, String> {
        match value {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::String(s) => Ok(Some(Cell::Text(s.clone()))),
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(|n| Some(Cell::Number(n)))
                .ok_or_else(|| "the number is out of range".to_owned()),
            _ => Err("a value is a string or a number".to_owned()),
        }
    }

    fn is_blank(&self) -> bool {
        matches!(self, Cell::Text(s) if s.trim().is_empty())
    }
}

/// A number without a needless `.0`.
fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// Excel's day count (1900 date system, Lotus' leap-year bug included) as
/// a date.
fn excel_serial_date(serial: f64) -> Option<NaiveDate> {
    if !(1.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    epoch.checked_add_days(chrono::Days::new(serial.floor() as u64))
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    for format in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"] {
        if let Ok(date) = NaiveDate::parse_from_str(text, format) {
            return Some(date);
        }
    }
    // "2026-12-01 00:00:00" from a sheet that stored a datetime as text.
    text.split_whitespace()
        .next()
        .filter(|d| *d != text)
        .and_then(parse_date)
}

/// Money: digits with at most two decimals, optionally with 元, ¥ or
/// thousands separators.
fn parse_money(text: &str) -> Option<String> {
    let cleaned: String = text
        .trim()
        .trim_end_matches('元')
        .trim_start_matches(['¥', '￥'])
        .chars()
        .filter(|c| *c != ',' && *c != '，')
        .collect();
    let (whole, fraction) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || whole.len() > 12
    {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    Some(format!("{whole}.{fraction:0<2}"))
}

fn parse_number(text: &str) -> Option<String> {
    let text = text.trim();
    let value: f64 = text.parse().ok()?;
    value.is_finite().then(|| text.to_owned())
}

/// The stored text of `cell` for a field of `field_type`; None when blank.
pub fn normalize(field_type: FieldType, cell: &Cell) -> Result<Option<String>, String> {
    if cell.is_blank() {
        return Ok(None);
    }
    if *cell == Cell::Error {
        return Err("the cell holds a spreadsheet error (#N/A, #DIV/0!, ...)".into());
    }
    let text = match (field_type, cell) {
        (FieldType::Text, Cell::Text(s)) => {
            let s = s.trim();
            if s.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("at most {MAX_TEXT_CHARS} characters"));
            }
            if s.chars().any(|c| c.is_control() && c != '\n') {
                return Err("control characters are not allowed".into());
            }
            s.to_owned()
        }
        (FieldType::Text, Cell::Number(n)) => number_text(*n),
        (FieldType::Text, Cell::Date(d)) | (FieldType::Date, Cell::Date(d)) => {
            d.format("%Y-%m-%d").to_string()
        }
        (FieldType::Date, Cell::Text(s)) => parse_date(s)
            .ok_or("a date is written like 2026-12-01 or 2026年12月1日")?
            .format("%Y-%m-%d")
            .to_string(),
        (FieldType::Date, Cell::Number(n)) => excel_serial_date(*n)
            .ok_or("not a date")?
            .format("%Y-%m-%d")
            .to_string(),
        (FieldType::Number, Cell::Text(s)) => parse_number(s).ok_or("not a number")?,
        (FieldType::Number, Cell::Number(n)) => number_text(*n),
        (FieldType::Money, Cell::Text(s)) => {
            parse_money(s).ok_or("an amount in yuan with at most two decimals, e.g. 8000.00")?
        }
        (FieldType::Money, Cell::Number(n)) => {
            if *n < 0.0 || ((n * 100.0).round() - n * 100.0).abs() > 1e-6 {
                return Err("an amount in yuan with at most two decimals, e.g. 8000.00".into());
            }
            format!("{n:.2}")
        }
        (FieldType::Phone, Cell::Text(s)) => parse_phone("", s)
            .map_err(|_| "a mainland mobile number: 11 digits starting 13-19".to_owned())?,
        (FieldType::Phone, Cell::Number(n)) => parse_phone("", &number_text(*n))
            .map_err(|_| "a mainland mobile number: 11 digits starting 13-19".to_owned())?,
        (FieldType::IdNumber, Cell::Text(s)) => {
            let id = s.trim().to_uppercase();
            if !resident_id_valid(&id) {
                return Err("not a valid resident ID number (GB 11643 checksum)".into());
            }
            id
        }
        (FieldType::IdNumber, Cell::Number(_)) => {
            return Err(
                "an ID number stored as a number loses its last digits: format the column as text"
                    .into(),
            );
        }
        (
            FieldType::Number | FieldType::Money | FieldType::Phone | FieldType::IdNumber,
            Cell::Date(_),
        ) => {
            return Err("a date is not a valid value here".into());
        }
        (_, Cell::Error) => return Err("the cell holds a spreadsheet error".into()),
    };
    Ok((!text.is_empty()).then_some(text))
}

/// How a stored value is drawn: dates in the field's format, the rest as
/// stored.
pub fn display(field_type: FieldType, date_format: Option<&str>, stored: &str) -> String {
    if field_type == FieldType::Date
        && let Ok(date) = NaiveDate::parse_from_str(stored, "%Y-%m-%d")
        && let Some(text) = format_date(date, date_format.unwrap_or(DATE_FORMATS[0]))
    {
        return text;
    }
    stored.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn dates_from_text_serials_and_cells() {
        for raw in [
            "2026-12-01",
            "2026/12/1",
            "2026年12月1日",
            "20261201",
            "2026-12-01 00:00:00",
        ] {
            assert_eq!(
                normalize(FieldType::Date, &text(raw)).unwrap().as_deref(),
                Some("2026-12-01"),
                "{raw}"
            );
        }
        // Excel serial 46357 is 2026-12-01.
        assert_eq!(
            normalize(FieldType::Date, &Cell::Number(46357.0))
                .unwrap()
                .as_deref(),
            Some("2026-12-01")
        );
        assert!(normalize(FieldType::Date, &text("下个月")).is_err());
        assert!(normalize(FieldType::Date, &text("2026-02-30")).is_err());
    }

    #[test]
    fn money_numbers_phones_and_ids() {
        assert_eq!(
            normalize(FieldType::Money, &text("8,500元"))
                .unwrap()
                .unwrap(),
            "8500.00"
        );
        assert_eq!(
            normalize(FieldType::Money, &text("¥8500.5"))
                .unwrap()
                .unwrap(),
            "8500.50"
        );
        assert_eq!(
            normalize(FieldType::Money, &Cell::Number(8500.0))
                .unwrap()
                .unwrap(),
            "8500.00"
        );
        assert!(normalize(FieldType::Money, &text("8500.555")).is_err());
        assert!(normalize(FieldType::Money, &text("-1")).is_err());
        assert_eq!(
            normalize(FieldType::Number, &Cell::Number(15.0))
                .unwrap()
                .unwrap(),
            "15"
        );
        assert_eq!(
            normalize(FieldType::Phone, &Cell::Number(13800138000.0))
                .unwrap()
                .unwrap(),
            "13800138000"
        );
        assert!(normalize(FieldType::Phone, &text("1380013800")).is_err());
        assert_eq!(
            normalize(FieldType::IdNumber, &text(" 11010519491231002x "))
                .unwrap()
                .unwrap(),
            "11010519491231002X"
        );
        assert!(normalize(FieldType::IdNumber, &text("110105194912310021")).is_err());
        assert!(normalize(FieldType::IdNumber, &Cell::Number(110105194912310020.0)).is_err());
        assert_eq!(normalize(FieldType::Text, &text("  ")).unwrap(), None);
        assert_eq!(
            normalize(FieldType::Text, &Cell::Number(3.0))
                .unwrap()
                .unwrap(),
            "3"
        );
    }
}
