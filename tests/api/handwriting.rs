//! Uploaded seal images: a handwritten signature captured on a phone
//! through a one-time link or uploaded directly, and a scanned enterprise
//! seal replacing the drawn one.

use std::io::Cursor;

use axum::body::Body;
use axum::http::Request;
use chrono::TimeDelta;
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::flows::certified_enterprise;
use crate::helpers::test_app::{Person, error_code, error_field};

/// A signature-like drawing: black strokes on a transparent canvas.
pub(crate) fn signature_png() -> Vec<u8> {
    let image = RgbaImage::from_fn(800, 400, |x, y| {
        if (200..600).contains(&x) && (y as i64 - 200).abs() < 6 + (x as i64 % 40) / 4 {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    encode(image, ImageFormat::Png)
}

/// A red seal scanned on white paper, as a JPEG.
fn scanned_seal_jpeg() -> Vec<u8> {
    let image = RgbImage::from_fn(600, 600, |x, y| {
        let (dx, dy) = (x as f32 - 300.0, y as f32 - 300.0);
        let r = (dx * dx + dy * dy).sqrt();
        if (260.0..280.0).contains(&r) {
            Rgb([210, 20, 30])
        } else {
            Rgb([252, 252, 250])
        }
    });
    encode(image, ImageFormat::Jpeg)
}

fn encode(image: impl Into<image::DynamicImage>, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.into().write_to(&mut out, format).unwrap();
    out.into_inner()
}

const MY_SEALS: &str = "{ me { seals { id kind status image { sha256 contentType } } } }";

async fn my_seals(t: &TestApp, person: &Person) -> Vec<Value> {
    let r = t.gql_as(&person.token, MY_SEALS, json!({})).await;
    r["data"]["me"]["seals"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .clone()
}

async fn download(t: &TestApp, path: &str) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    let (status, headers, body) = t
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await;
    (status.as_u16(), headers, body)
}

const SUBMIT: &str = "mutation($c: ID!, $t: String!, $i: Upload!) { submitSignatureCapture(captureId: $c, token: $t, image: $i) { id kind status image { contentType } } }";

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_captured_on_the_phone_becomes_the_persons_handwritten_seal() {
    let t = TestApp::spawn().await;
    let person = t.verified_person("13800003701", "410105199003074510").await;
    let r = t
        .gql_as(
            &person.token,
            "mutation { startSignatureCapture { id url expiresAt } }",
            json!({}),
        )
        .await;
    let capture = &r["data"]["startSignatureCapture"];
    let id = capture["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let url = capture["url"].as_str().unwrap().to_owned();
    let (path, fragment) = url
        .trim_start_matches("http://127.0.0.1:8080")
        .split_once('#')
        .unwrap();
    assert_eq!(path, format!("/capture/{id}"));
    let token = fragment.strip_prefix("token=").unwrap().to_owned();

    // The phone opens the page (no login), which posts the drawing.
    let (status, headers, page) = download(&t, path).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("手写签名采集") && page.contains("submitSignatureCapture"));

    // A wrong token learns nothing; the right one stores the signature.
    let png = signature_png();
    let files: &[(&str, &str, &[u8])] = &[("i", "signature.png", &png)];
    let r = t
        .gql_upload(
            "",
            SUBMIT,
            json!({ "c": id, "t": "not-the-token", "i": null }),
            files,
        )
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    let r = t
        .gql_upload("", SUBMIT, json!({ "c": id, "t": token, "i": null }), files)
        .await;
    let seal = &r["data"]["submitSignatureCapture"];
    assert_eq!(seal["kind"], "HANDWRITTEN", "{r}");
    assert_eq!(seal["image"]["contentType"], "image/png");
    let r = t
        .gql_upload("", SUBMIT, json!({ "c": id, "t": token, "i": null }), files)
        .await;
    assert_eq!(error_code(&r), "CONFLICT", "a link works once");

    let seals = my_seals(&t, &person).await;
    let kinds: Vec<&str> = seals.iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PERSONAL_NAME", "HANDWRITTEN"]);

    // The stored record is signed over the stored image.
    let mut conn = t.conn().await;
    let seal_id = seals[1]["id"].as_str().unwrap().parse().unwrap();
    let row = yuyunqian::db::seals::Seal::find(&mut conn, seal_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        yuyunqian::domain::seals::verify_record(&mut conn, &t.app.services(), &row)
            .await
            .unwrap()
    );

    // An expired link is refused.
    let r = t
        .gql_as(
            &person.token,
            "mutation { startSignatureCapture { id url } }",
            json!({}),
        )
        .await;
    let late = r["data"]["startSignatureCapture"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let late_token = r["data"]["startSignatureCapture"]["url"]
        .as_str()
        .unwrap()
        .split_once("#token=")
        .unwrap()
        .1
        .to_owned();
    t.app.clock.advance(TimeDelta::minutes(11));
    let r = t
        .gql_upload(
            "",
            SUBMIT,
            json!({ "c": late, "t": late_token, "i": null }),
            files,
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uploaded_signature_replaces_the_previous_one_and_bad_images_are_refused() {
    let t = TestApp::spawn().await;
    let person = t.verified_person("13800003801", "410105199003074510").await;
    let add = "mutation($i: Upload!) { addHandwrittenSignature(image: $i) { id status } }";
    let png = signature_png();
    let first = t
        .gql_upload(
            &person.token,
            add,
            json!({ "i": null }),
            &[("i", "a.png", &png)],
        )
        .await;
    let first = first["data"]["addHandwrittenSignature"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let jpeg = scanned_seal_jpeg();
    let second = t
        .gql_upload(
            &person.token,
            add,
            json!({ "i": null }),
            &[("i", "b.jpg", &jpeg)],
        )
        .await;
    let second = second["data"]["addHandwrittenSignature"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{second}"))
        .to_owned();
    let seals = my_seals(&t, &person).await;
    let status = |id: &str| seals.iter().find(|s| s["id"] == id).unwrap()["status"].clone();
    assert_eq!(status(&first), "VOIDED");
    assert_eq!(status(&second), "ENABLED");

    for (name, bytes, why) in [
        (
            "a.gif",
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            "not PNG or JPEG",
        ),
        (
            "b.png",
            encode(
                RgbImage::from_pixel(100, 50, Rgb([0, 0, 0])),
                ImageFormat::Png,
            ),
            "too small",
        ),
        (
            "c.png",
            encode(
                RgbImage::from_pixel(600, 300, Rgb([255, 255, 255])),
                ImageFormat::Png,
            ),
            "blank",
        ),
        ("d.png", vec![0x89; 3 * 1024 * 1024], "too large"),
    ] {
        let r = t
            .gql_upload(
                &person.token,
                add,
                json!({ "i": null }),
                &[("i", name, &bytes)],
            )
            .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT", "{why}: {r}");
        assert_eq!(error_field(&r), "image", "{why}");
    }

    // Only verified people capture signatures.
    let stranger = {
        t.app.clock.advance(TimeDelta::seconds(61));
        t.register("13800003802").await
    };
    let r = t
        .gql_as(
            &stranger.token,
            "mutation { startSignatureCapture { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_replaces_a_seal_image_with_a_scan_and_the_record_follows() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800003901",
        "郑州扫描科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let r = t
        .gql_as(
            &admin.token,
            "query($e: ID!) { enterprise(id: $e) { seals { id image { sha256 } } } }",
            json!({ "e": enterprise }),
        )
        .await;
    let seal = r["data"]["enterprise"]["seals"][0].clone();
    let replace = "mutation($s: ID!, $i: Upload!) { replaceSealImage(sealId: $s, image: $i) { id image { sha256 url } } }";
    let jpeg = scanned_seal_jpeg();
    let r = t
        .gql_upload(
            &admin.token,
            replace,
            json!({ "s": seal["id"], "i": null }),
            &[("i", "scan.jpg", &jpeg)],
        )
        .await;
    let replaced = &r["data"]["replaceSealImage"];
    assert_ne!(replaced["image"]["sha256"], seal["image"]["sha256"], "{r}");

    // The stored image is a PNG whose paper became transparent.
    let url = replaced["image"]["url"].as_str().unwrap();
    let (status, _, png) = download(&t, url.trim_start_matches("http://127.0.0.1:8080")).await;
    assert_eq!(status, 200);
    let image = image::load_from_memory_with_format(&png, ImageFormat::Png)
        .unwrap()
        .into_rgba8();
    assert_eq!(image.get_pixel(5, 5).0[3], 0);
    assert_eq!(image.get_pixel(300, 30).0[3], 255);

    let mut conn = t.conn().await;
    let id = seal["id"].as_str().unwrap().parse().unwrap();
    let row = yuyunqian::db::seals::Seal::find(&mut conn, id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        yuyunqian::domain::seals::verify_record(&mut conn, &t.app.services(), &row)
            .await
            .unwrap()
    );

    // Members cannot, and the platform-drawn name seal cannot be replaced.
    t.app.clock.advance(TimeDelta::seconds(61));
    let other = t.verified_person("13800003902", "110101199003071233").await;
    let r = t
        .gql_upload(
            &other.token,
            replace,
            json!({ "s": seal["id"], "i": null }),
            &[("i", "scan.jpg", &jpeg)],
        )
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    let name_seal = my_seals(&t, &other).await[0]["id"].clone();
    let r = t
        .gql_upload(
            &other.token,
            replace,
            json!({ "s": name_seal, "i": null }),
            &[("i", "scan.jpg", &jpeg)],
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT");
}
