//! Mainland mobile numbers: validation and the masked form shown to others.

use crate::error::AppError;

/// Accepts `1[3-9]` followed by nine digits, optionally written with +86 or spaces.
pub fn parse_phone(field: &str, raw: &str) -> Result<String, AppError> {
    let compact: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let number = compact
        .strip_prefix("+86")
        .or_else(|| compact.strip_prefix("0086"))
        .unwrap_or(&compact);
    let bytes = number.as_bytes();
    let valid = bytes.len() == 11
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
        && bytes.iter().all(u8::is_ascii_digit);
    if valid {
        Ok(number.to_owned())
    } else {
        Err(AppError::bad_input(
            field,
            "phone number must be a mainland mobile number (11 digits starting 13-19)",
        ))
    }
}

pub use crate::notify::texts::mask_phone;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainland_mobiles_are_accepted_and_normalised() {
        assert_eq!(parse_phone("phone", "13800000000").unwrap(), "13800000000");
        assert_eq!(
            parse_phone("phone", "+86 139-0000-0000").unwrap(),
            "13900000000"
        );
    }

    #[test]
    fn other_numbers_are_refused_with_field() {
        for bad in [
            "12800000000",
            "1380000000",
            "138000000001",
            "1380000000a",
            "",
        ] {
            let err = parse_phone("phone", bad).unwrap_err();
            assert!(matches!(err, AppError::BadInput { field: Some(ref f), .. } if f == "phone"));
        }
    }

    #[test]
    fn masks_the_middle_four() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
    }
}
