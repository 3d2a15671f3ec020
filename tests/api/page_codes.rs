//! Per-page QR codes: vector drawings that a QR decoder reads back as each
//! page's own verification URL.

use lopdf::{Document, Object};
use uuid::Uuid;
use yuyunqian::domain::page_codes;
use yuyunqian::pdf::qr::add_page_codes;

use crate::helpers::TestApp;
use crate::pades::contract_pdf;

fn coded(t: &TestApp, document: Uuid, pages: u16) -> (Vec<u8>, Vec<String>) {
    let template = contract_pdf(usize::from(pages));
    let parsed = Document::load_mem(&template).unwrap();
    let urls: Vec<String> = (1..=pages)
        .map(|page| {
            let code = page_codes::encode(t.keys(), document, page).unwrap();
            page_codes::url("https://yuyunqian.example", &code)
        })
        .collect();
    (
        add_page_codes(&template, &parsed, &urls, 56.0).unwrap(),
        urls,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_gets_a_vector_code_and_no_page_is_added() {
    let t = TestApp::spawn().await;
    let (pdf, _) = coded(&t, Uuid::new_v4(), 3);
    let document = Document::load_mem(&pdf).unwrap();
    assert_eq!(document.get_pages().len(), 3);
    let images = document
        .objects
        .values()
        .filter(|o| matches!(o, Object::Stream(s) if s.dict.get(b"Subtype").is_ok_and(|v| v.as_name().is_ok_and(|n| n == b"Image"))))
        .count();
    assert_eq!(images, 0, "drawn with operators, not a raster");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs pdftoppm (poppler-utils): run by .ci/run"]
async fn a_qr_decoder_reads_each_pages_own_url() {
    let t = TestApp::spawn().await;
    let document = Uuid::new_v4();
    let (pdf, urls) = coded(&t, document, 3);
    let dir = std::env::temp_dir().join(format!("yyq-qr-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("coded.pdf"), &pdf).unwrap();
    let output = tokio::process::Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png", "coded.pdf", "page"])
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    for (index, url) in urls.iter().enumerate() {
        let image = image::open(dir.join(format!("page-{}.png", index + 1)))
            .unwrap()
            .into_luma8();
        let (width, height) = image.dimensions();
        // The bottom-right quarter of the page holds the code.
        let (x0, y0) = (width / 2, height / 2);
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            (width - x0) as usize,
            (height - y0) as usize,
            |x, y| image.get_pixel(x0 + x as u32, y0 + y as u32).0[0],
        );
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one code on page {}", index + 1);
        let (_, text) = grids[0].decode().unwrap();
        assert_eq!(&text, url);
        let code = text.rsplit('/').next().unwrap();
        let page = u16::try_from(index + 1).unwrap();
        assert_eq!(page_codes::decode(t.keys(), code), Some((document, page)));
    }
}
