//! Filling contracts: values drawn into their boxes with embedded font
//! subsets, on the template's own pages, readable back by pdftotext.

use lopdf::{Document, Object};
use yuyunqian::pdf::PdfError;
use yuyunqian::pdf::fill::{FieldText, fill};

use crate::pades::contract_pdf;

fn field<'a>(
    key: &'a str,
    page: usize,
    y: f32,
    width: f32,
    height: f32,
    text: &'a str,
) -> FieldText<'a> {
    FieldText {
        key,
        page,
        x: 72.0,
        y,
        width,
        height,
        font_size: 12.0,
        text,
    }
}

const ADDRESS: &str = "河南省郑州市金水区花园路与农业路交叉口东北角国基大厦二十三层2301室";

fn values() -> Vec<FieldText<'static>> {
    vec![
        field(
            "employer_name",
            0,
            700.0,
            300.0,
            16.0,
            "郑州云签科技有限公司",
        ),
        field("employee_name", 0, 670.0, 300.0, 16.0, "张三"),
        field(
            "employee_id_number",
            0,
            640.0,
            300.0,
            16.0,
            "41010519900307451X",
        ),
        field("start_date", 0, 610.0, 300.0, 16.0, "2026年11月30日"),
        field("monthly_pay", 0, 580.0, 300.0, 16.0, "8000.00元"),
        field("employee_address", 1, 600.0, 200.0, 60.0, ADDRESS),
    ]
}

#[test]
fn values_are_drawn_on_the_templates_pages_with_embedded_subsets() {
    let template = contract_pdf(3);
    let document = Document::load_mem(&template).unwrap();
    let filled = fill(&template, &document, &values()).unwrap();
    assert!(filled.starts_with(&template), "an incremental revision");
    let result = Document::load_mem(&filled).unwrap();
    assert_eq!(result.get_pages().len(), 3, "no page added");
    let type0: Vec<_> = result
        .objects
        .values()
        .filter_map(|o| match o {
            Object::Dictionary(d)
                if d.get(b"Subtype")
                    .is_ok_and(|s| s.as_name().is_ok_and(|n| n == b"Type0")) =>
            {
                Some(d)
            }
            _ => None,
        })
        .collect();
    assert_eq!(type0.len(), 2, "one CJK and one Latin subset");
    for font in type0 {
        assert!(font.has(b"ToUnicode"));
        let name = font.get(b"BaseFont").unwrap().as_name().unwrap();
        assert_eq!(
            name[6],
            b'+',
            "a subset tag: {}",
            String::from_utf8_lossy(name)
        );
    }
    // Subsets stay small next to the 4 MB CJK font.
    assert!(
        filled.len() - template.len() < 120_000,
        "{}",
        filled.len() - template.len()
    );
}

#[test]
fn values_that_do_not_fit_or_cannot_be_drawn_name_their_field() {
    let template = contract_pdf(1);
    let document = Document::load_mem(&template).unwrap();
    let too_long = [field("job_title", 0, 700.0, 40.0, 8.0, ADDRESS)];
    match fill(&template, &document, &too_long) {
        Err(PdfError::TextDoesNotFit { field }) => assert_eq!(field, "job_title"),
        other => panic!("{:?}", other.map(|b| b.len())),
    }
    let emoji = [field("employee_name", 0, 700.0, 200.0, 16.0, "张三😀")];
    match fill(&template, &document, &emoji) {
        Err(PdfError::Undrawable { field, character }) => {
            assert_eq!((field.as_str(), character), ("employee_name", '😀'))
        }
        other => panic!("{:?}", other.map(|b| b.len())),
    }
    let missing_page = [field("employee_name", 5, 700.0, 200.0, 16.0, "张三")];
    assert!(matches!(
        fill(&template, &document, &missing_page),
        Err(PdfError::NoSuchPage(6))
    ));
}

#[tokio::test]
#[ignore = "needs pdftotext and qpdf (poppler-utils, qpdf): run by .ci/run"]
async fn pdftotext_reads_the_values_back_exactly() {
    let template = contract_pdf(3);
    let document = Document::load_mem(&template).unwrap();
    let filled = fill(&template, &document, &values()).unwrap();
    let dir = std::env::temp_dir().join(format!("yyq-fill-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("filled.pdf"), &filled).unwrap();
    let check = tokio::process::Command::new("qpdf")
        .args(["--check", "filled.pdf"])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let output = tokio::process::Command::new("pdftotext")
        .args(["-layout", "filled.pdf", "-"])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    for value in values().iter().filter(|v| v.key != "employee_address") {
        assert!(
            text.contains(value.text),
            "{} missing from:\n{text}",
            value.text
        );
    }
    // The wrapped address reads back whole once line breaks are removed.
    let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(joined.contains(ADDRESS), "{joined}");
}
