//! Excel import mode (Excel 导入模式): the sheet template a batch's
//! initiator downloads, and reading the filled sheet back into rows.
//!
//! The template has a hidden first row of column keys (so renamed headers
//! still map), a header row of Chinese labels (`*` marks required ones),
//! every column formatted as text (Excel keeps phones, ID numbers and
//! dates as typed), and the enterprise's fixed information in the first
//! data row.
//!
//! Reading refuses, before parsing, what is not an xlsx or would inflate
//! beyond limits, then streams cells (never a dense range: a tiny sheet
//! with cells at A1 and XFD1048576 would ask for gigabytes) with caps on
//! rows, columns and cells.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook};

use crate::domain::tasks::plan::{FillField, MAX_ROWS, RowInput};
use crate::domain::tasks::values::Cell;

pub const MAX_SHEET_BYTES: usize = 10 * 1024 * 1024;
const MAX_INFLATED_BYTES: u64 = 100 * 1024 * 1024;
const MAX_ENTRIES: usize = 1000;
const MAX_COLUMNS: u32 = 200;
const MAX_CELLS: usize = 1_000_000;
/// Header rows above the data: the hidden keys and the labels.
const HEADER_ROWS: u32 = 2;

pub const NAME: &str = "person.name";
pub const PHONE: &str = "person.phone";
pub const ID_NUMBER: &str = "person.idNumber";

/// One column of the sheet.
#[derive(Debug, Clone)]
pub struct Column {
    pub key: String,
    pub label: String,
    pub required: bool,
}

/// The person's columns, then one per field the initiator fills.
pub fn columns(fields: &[FillField]) -> Vec<Column> {
    let mut columns = vec![
        Column {
            key: NAME.into(),
            label: "姓名".into(),
            required: true,
        },
        Column {
            key: PHONE.into(),
            label: "手机号".into(),
            required: true,
        },
        Column {
            key: ID_NUMBER.into(),
            label: "证件号码".into(),
            required: false,
        },
    ];
    columns.extend(fields.iter().map(|f| Column {
        key: f.definition.key.clone(),
        label: f.definition.label.clone(),
        required: f.required,
    }));
    columns
}

/// The .xlsx an initiator fills; `first_row` pre-fills keys of the first
/// data row (the enterprise's fixed information).
pub fn template(
    columns: &[Column],
    first_row: &HashMap<String, String>,
) -> Result<Vec<u8>, String> {
    let fail = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut workbook = Workbook::new();
    let text = Format::new().set_num_format("@");
    let header = Format::new()
        .set_bold()
        .set_num_format("@")
        .set_background_color("#DDEBF7");
    let sheet = workbook.add_worksheet();
    sheet.set_name("签署数据").map_err(fail)?;
    for (i, column) in columns.iter().enumerate() {
        let col = u16::try_from(i).map_err(|e| e.to_string())?;
        sheet.set_column_format(col, &text).map_err(fail)?;
        sheet.set_column_width(col, 18).map_err(fail)?;
        sheet.write_string(0, col, &column.key).map_err(fail)?;
        let label = if column.required {
            format!("{} *", column.label)
        } else {
            column.label.clone()
        };
        sheet
            .write_string_with_format(1, col, &label, &header)
            .map_err(fail)?;
        if let Some(value) = first_row.get(&column.key) {
            sheet
                .write_string_with_format(HEADER_ROWS, col, value, &text)
                .map_err(fail)?;
        }
    }
    sheet.set_row_hidden(0).map_err(fail)?;
    sheet.set_freeze_panes(HEADER_ROWS, 0).map_err(fail)?;
    workbook.save_to_buffer().map_err(fail)
}

/// Refuses what is not a zip of sane size before any XML is parsed.
fn check_container(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_SHEET_BYTES {
        return Err(format!(
            "the sheet is larger than {} MB",
            MAX_SHEET_BYTES / (1024 * 1024)
        ));
    }
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err("not an .xlsx file (Excel 2007 or later)".into());
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| "the .xlsx file is damaged".to_owned())?;
    if archive.len() > MAX_ENTRIES {
        return Err("the .xlsx file has too many parts".into());
    }
    let mut inflated: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|_| "the .xlsx file is damaged".to_owned())?;
        inflated = inflated.saturating_add(entry.size());
    }
    if inflated > MAX_INFLATED_BYTES {
        return Err("the .xlsx file unpacks to more than 100 MB".into());
    }
    Ok(())
}

fn cell_of(value: &DataRef<'_>) -> Option<Cell> {
    match value {
        DataRef::Empty => None,
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => {
            Some(Cell::Text(s.clone()))
        }
        DataRef::SharedString(s) => Some(Cell::Text((*s).to_owned())),
        DataRef::Int(i) => Some(Cell::Number(*i as f64)),
        DataRef::Float(f) => Some(Cell::Number(*f)),
        DataRef::Bool(b) => Some(Cell::Text(if *b { "是" } else { "否" }.into())),
        DataRef::DateTime(d) => {
            let serial = d.as_f64();
            Some(excel_date(serial).map_or(Cell::Number(serial), Cell::Date))
        }
        DataRef::Error(_) => Some(Cell::Error),
    }
}

fn excel_date(serial: f64) -> Option<chrono::NaiveDate> {
    if !(1.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?
        .checked_add_days(chrono::Days::new(serial.floor() as u64))
}

fn text_of(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.trim().to_owned(),
        Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Cell::Number(n) => n.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Error => "#ERROR".into(),
    }
}

/// The columns' keys by column index, from the hidden key row or, when a
/// user removed it, from the label row.
fn header(
    rows: &BTreeMap<u32, Vec<(u32, Cell)>>,
    columns: &[Column],
) -> Result<(u32, HashMap<u32, String>), String> {
    let by_key = |row: &Vec<(u32, Cell)>| -> Option<HashMap<u32, String>> {
        let keys: HashMap<u32, String> = row
            .iter()
            .filter_map(|(col, cell)| {
                let text = text_of(cell);
                columns
                    .iter()
                    .any(|c| c.key == text)
                    .then_some((*col, text))
            })
            .collect();
        keys.values().any(|k| k == PHONE).then_some(keys)
    };
    let by_label = |row: &Vec<(u32, Cell)>| -> Option<HashMap<u32, String>> {
        let keys: HashMap<u32, String> = row
            .iter()
            .filter_map(|(col, cell)| {
                let text = text_of(cell);
                let label = text.trim_end_matches('*').trim();
                columns
                    .iter()
                    .find(|c| c.label == label)
                    .map(|c| (*col, c.key.clone()))
            })
            .collect();
        keys.values().any(|k| k == PHONE).then_some(keys)
    };
    for (index, row) in rows.iter().take(3) {
        if let Some(keys) = by_key(row) {
            // The label row follows the key row.
            return Ok((index + 1, keys));
        }
        if let Some(keys) = by_label(row) {
            return Ok((*index, keys));
        }
    }
    Err("no header row with the 手机号 column: fill the downloaded template".into())
}

/// The rows of a filled sheet (numbered as Excel shows them).
pub fn read(bytes: &[u8], columns: &[Column]) -> Result<Vec<RowInput>, String> {
    check_container(bytes)?;
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|_| "the .xlsx file cannot be read".to_owned())?;
    let sheet = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or("the workbook has no sheet")?;
    let mut reader = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(|_| "the sheet cannot be read".to_owned())?;
    let mut rows: BTreeMap<u32, Vec<(u32, Cell)>> = BTreeMap::new();
    let mut cells = 0usize;
    let max_row = u32::try_from(MAX_ROWS).unwrap_or(u32::MAX) + HEADER_ROWS + 1;
    while let Some(cell) = reader
        .next_cell()
        .map_err(|_| "the sheet cannot be read".to_owned())?
    {
        let (row, col) = cell.get_position();
        let Some(value) = cell_of(cell.get_value()) else {
            continue;
        };
        if col >= MAX_COLUMNS {
            return Err(format!("the sheet has more than {MAX_COLUMNS} columns"));
        }
        if row >= max_row {
            return Err(format!("the sheet has more than {MAX_ROWS} rows"));
        }
        cells += 1;
        if cells > MAX_CELLS {
            return Err("the sheet has too many cells".into());
        }
        rows.entry(row).or_default().push((col, value));
    }
    let (header_row, keys) = header(&rows, columns)?;
    let mut out = Vec::new();
    for (index, cells) in rows.range(header_row + 1..) {
        let mut row = RowInput {
            number: i32::try_from(index + 1).unwrap_or(i32::MAX),
            name: String::new(),
            phone: String::new(),
            id_number: None,
            values: Vec::new(),
        };
        let mut any = false;
        for (col, cell) in cells {
            let Some(key) = keys.get(col) else {
                if !text_of(cell).is_empty() {
                    return Err(format!(
                        "row {}: a value in a column without a known header",
                        index + 1
                    ));
                }
                continue;
            };
            if text_of(cell).is_empty() {
                continue;
            }
            any = true;
            // An error cell leaves the person's name or phone empty, which
            // the row checks report.
            let person_text = || {
                if *cell == Cell::Error {
                    String::new()
                } else {
                    text_of(cell)
                }
            };
            match key.as_str() {
                NAME => row.name = person_text(),
                PHONE => row.phone = person_text(),
                ID_NUMBER => row.id_number = Some(cell.clone()),
                _ => row.values.push((key.clone(), cell.clone())),
            }
        }
        if any {
            out.push(row);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_reads_back_through_its_hidden_keys() {
        let columns = vec![
            Column {
                key: NAME.into(),
                label: "姓名".into(),
                required: true,
            },
            Column {
                key: PHONE.into(),
                label: "手机号".into(),
                required: true,
            },
            Column {
                key: "start_date".into(),
                label: "合同开始日期".into(),
                required: true,
            },
        ];
        let first: HashMap<String, String> =
            [("start_date".to_owned(), "2026-12-01".to_owned())].into();
        let bytes = template(&columns, &first).unwrap();
        let rows = read(&bytes, &columns).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].number, 3);
        assert_eq!(
            rows[0].values,
            vec![("start_date".to_owned(), Cell::Text("2026-12-01".into()))]
        );
        assert!(read(b"not a zip", &columns).is_err());
    }
}
