//! Checks of Chinese identity numbers: resident ID (GB 11643), unified social
//! credit code (GB 32100), bank cards (Luhn), and their masked display form.

use chrono::NaiveDate;

/// Whether `id` is an 18-character resident ID number with a real birth date
/// and the GB 11643 (ISO 7064 MOD 11-2) check character.
pub fn resident_id_valid(id: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let birth = &id[6..14];
    if NaiveDate::parse_from_str(birth, "%Y%m%d").is_err() || &birth[..2] < "18" {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let expected = CHECK[(sum % 11) as usize];
    bytes[17].to_ascii_uppercase() == expected
}

/// Whether `code` is an 18-character unified social credit code with a valid
/// GB 32100 check character.
pub fn uscc_valid(code: &str) -> bool {
    const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return false;
    }
    let mut values = Vec::with_capacity(18);
    for c in &chars {
        match ALPHABET.find(*c) {
            Some(v) => values.push(v as u32),
            None => return false,
        }
    }
    let sum: u32 = values[..17].iter().zip(WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    values[17] == check
}

/// Whether `card` is a 12-19 digit number passing the Luhn check.
pub fn bank_card_valid(card: &str) -> bool {
    let digits: Vec<u32> = card.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != card.len() || !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `4101**********1234`: the first four and last four characters kept.
pub fn mask_id_number(id: &str) -> String {
    mask_middle(id, 4, 4)
}

/// `6222***********0123`: the first four and last four digits kept.
pub fn mask_bank_card(card: &str) -> String {
    mask_middle(card, 4, 4)
}

fn mask_middle(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_checksum_is_checked() {
        assert!(resident_id_valid("11010519491231002X"));
        assert!(resident_id_valid("11010519491231002x"));
        assert!(!resident_id_valid("110105194912310021"));
        assert!(resident_id_valid("410105199003074510"));
        assert!(!resident_id_valid("410105199003074516"));
    }

    #[test]
    fn resident_id_needs_real_birth_date_and_length() {
        // right check character, but 1990-02-30 does not exist
        assert!(!resident_id_valid("410105199002304513"));
        assert!(!resident_id_valid("4101051990030745"));
    }

    #[test]
    fn uscc_check_character_is_checked() {
        assert!(uscc_valid("91350100M000100Y43"));
        assert!(!uscc_valid("91350100M000100Y44"));
        assert!(!uscc_valid("91350100M000100Y4"));
        assert!(!uscc_valid("91350100I000100Y43"));
    }

    #[test]
    fn bank_cards_use_luhn() {
        assert!(bank_card_valid("6222020200112233446"));
        assert!(!bank_card_valid("6222020200112233445"));
        assert!(!bank_card_valid("6222 0202"));
    }

    #[test]
    fn masks_keep_four_and_four() {
        assert_eq!(mask_id_number("410105199003074510"), "4101**********4510");
        assert_eq!(mask_bank_card("6222020200112233446"), "6222***********3446");
        assert_eq!(mask_id_number("123"), "***");
    }
}
