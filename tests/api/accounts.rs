//! Registration, SMS codes and their limits, logins, sessions, profile changes.

use chrono::TimeDelta;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::test_app::{PASSWORD, error_code, error_field};
use yuyunqian::db::schema::{email_outbox, sessions};

const ME: &str = "{ me { id phone realNameStatus ukeyBound email } }";
const REGISTER: &str = "mutation($p: String!, $pw: String!, $c: String!, $a: Boolean!) { register(phone: $p, password: $pw, smsCode: $c, acceptAgreements: $a) { token expiresAt user { id phone } } }";
const LOGIN_SMS: &str = "mutation($p: String!, $c: String!) { loginWithSms(phone: $p, smsCode: $c) { token user { phone } } }";
const LOGIN_PASSWORD: &str = "mutation($p: String!, $pw: String!, $id: ID!, $a: String!) { loginWithPassword(phone: $p, password: $pw, captchaId: $id, captchaAnswer: $a) { token } }";

#[tokio::test(flavor = "multi_thread")]
async fn person_registers_logs_in_by_sms_and_logs_out() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000001").await;
    let me = t.gql_as(&person.token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["phone"], "13800000001");
    assert_eq!(me["data"]["me"]["realNameStatus"], "UNVERIFIED");
    assert_eq!(me["data"]["me"]["id"], person.user_id.as_str());

    t.app.clock.advance(TimeDelta::seconds(61));
    t.send_code("13800000001", "LOGIN").await;
    let code = t.code_for("13800000001").await;
    let login = t
        .gql(LOGIN_SMS, json!({ "p": "13800000001", "c": code }))
        .await;
    let token = login["data"]["loginWithSms"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_ne!(token, person.token);

    let out = t.gql_as(&token, "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true);
    let me = t.gql_as(&token, ME, json!({})).await;
    assert!(me["data"]["me"].is_null());
    let still = t.gql_as(&person.token, ME, json!({})).await;
    assert_eq!(still["data"]["me"]["phone"], "13800000001");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_token_hash_is_stored() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000002").await;
    let mut conn = t.conn().await;
    let hashes: Vec<Vec<u8>> = sessions::table
        .select(sessions::token_hash)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(
        hashes[0],
        yuyunqian::pki::secrets::sha256(person.token.as_bytes())
    );
    assert!(person.token.len() >= 43, "256-bit token");
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_refuses_bad_input_naming_the_field() {
    let t = TestApp::spawn().await;
    t.send_code("13800000003", "REGISTER").await;
    let code = t.code_for("13800000003").await;
    let cases = [
        (
            json!({ "p": "12800000003", "pw": PASSWORD, "c": code, "a": true }),
            "phone",
        ),
        (
            json!({ "p": "13800000003", "pw": "short1A", "c": code, "a": true }),
            "password",
        ),
        (
            json!({ "p": "13800000003", "pw": "alllowercase1", "c": code, "a": true }),
            "password",
        ),
        (
            json!({ "p": "13800000003", "pw": "Password123", "c": code, "a": true }),
            "password",
        ),
        (
            json!({ "p": "13800000003", "pw": PASSWORD, "c": code, "a": false }),
            "acceptAgreements",
        ),
        (
            json!({ "p": "13800000003", "pw": PASSWORD, "c": "12345", "a": true }),
            "smsCode",
        ),
    ];
    for (variables, field) in cases {
        let response = t.gql(REGISTER, variables).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        assert_eq!(error_field(&response), field, "{response}");
    }
    // None of the refusals used the code up.
    let ok = t
        .gql(
            REGISTER,
            json!({ "p": "13800000003", "pw": PASSWORD, "c": code, "a": true }),
        )
        .await;
    assert!(ok["data"]["register"]["token"].is_string(), "{ok}");
}

#[tokio::test(flavor = "multi_thread")]
async fn send_code_does_not_reveal_whether_a_phone_is_registered() {
    let t = TestApp::spawn().await;
    t.register("13800000004").await;
    t.app.clock.advance(TimeDelta::seconds(61));

    let taken = t.send_code("13800000004", "REGISTER").await;
    let free = t.send_code("13900000004", "REGISTER").await;
    assert_eq!(taken["data"]["sendSmsCode"]["retryAfterSeconds"], 60);
    assert_eq!(
        taken["data"]["sendSmsCode"].as_object().map(|o| o.len()),
        free["data"]["sendSmsCode"].as_object().map(|o| o.len())
    );
    assert!(taken.get("errors").is_none() && free.get("errors").is_none());

    // The owner of the taken phone can use the code, and learns the phone is registered.
    let code = t.code_for("13800000004").await;
    let again = t
        .gql(
            REGISTER,
            json!({ "p": "13800000004", "pw": PASSWORD, "c": code, "a": true }),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");

    // Login codes for phones without an account answer the same but are never sent.
    let before = t.sms_count("13700000004").await;
    let unknown = t.send_code("13700000004", "LOGIN").await;
    assert_eq!(unknown["data"]["sendSmsCode"]["sentTo"], "137****0004");
    assert_eq!(t.sms_count("13700000004").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_limited_per_minute_and_per_day_per_phone() {
    let t = TestApp::spawn().await;
    let phone = "13800000005";
    assert!(t.send_code(phone, "REGISTER").await.get("errors").is_none());
    let again = t.send_code(phone, "LOGIN").await;
    assert_eq!(error_code(&again), "RATE_LIMITED");
    let retry = again["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_i64()
        .unwrap();
    assert!((1..=60).contains(&retry), "{again}");
    for _ in 0..9 {
        t.app.clock.advance(TimeDelta::seconds(61));
        let sent = t.send_code(phone, "REGISTER").await;
        assert!(sent.get("errors").is_none(), "{sent}");
    }
    t.app.clock.advance(TimeDelta::seconds(61));
    let eleventh = t.send_code(phone, "REGISTER").await;
    assert_eq!(error_code(&eleventh), "RATE_LIMITED", "{eleventh}");
    t.app.clock.advance(TimeDelta::days(1));
    assert!(t.send_code(phone, "REGISTER").await.get("errors").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_limited_per_client_ip() {
    let t = TestApp::with_config(|c| c.limits.sms_codes_per_ip_hour = 3).await;
    let send_from = |ip: &'static str, phone: &'static str| {
        let t = &t;
        async move {
            t.gql_full(
                ip,
                None,
                "mutation($p: String!) { sendSmsCode(phone: $p, purpose: REGISTER) { sentTo } }",
                json!({ "p": phone }),
            )
            .await
        }
    };
    for phone in ["13800000011", "13800000012", "13800000013"] {
        assert!(
            send_from("198.51.100.1", phone)
                .await
                .get("errors")
                .is_none()
        );
    }
    let fourth = send_from("198.51.100.1", "13800000014").await;
    assert_eq!(error_code(&fourth), "RATE_LIMITED");
    let other_ip = send_from("198.51.100.2", "13800000014").await;
    assert!(other_ip.get("errors").is_none(), "{other_ip}");
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_expire_after_five_minutes() {
    let t = TestApp::spawn().await;
    t.send_code("13800000006", "REGISTER").await;
    let code = t.code_for("13800000006").await;
    t.app.clock.advance(TimeDelta::seconds(301));
    let late = t
        .gql(
            REGISTER,
            json!({ "p": "13800000006", "pw": PASSWORD, "c": code, "a": true }),
        )
        .await;
    assert_eq!(error_code(&late), "BAD_USER_INPUT");
    assert_eq!(error_field(&late), "smsCode");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_wrong_tries_kill_the_code_and_a_code_works_once() {
    let t = TestApp::spawn().await;
    t.register("13800000007").await;
    t.send_code("13800000007", "LOGIN").await;
    let code = t.code_for("13800000007").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = t
            .gql(LOGIN_SMS, json!({ "p": "13800000007", "c": wrong }))
            .await;
        assert_eq!(error_code(&r), "BAD_USER_INPUT");
    }
    let right_but_dead = t
        .gql(LOGIN_SMS, json!({ "p": "13800000007", "c": code }))
        .await;
    assert_eq!(
        error_code(&right_but_dead),
        "BAD_USER_INPUT",
        "{right_but_dead}"
    );

    t.app.clock.advance(TimeDelta::seconds(61));
    t.send_code("13800000007", "LOGIN").await;
    let code = t.code_for("13800000007").await;
    let first = t
        .gql(LOGIN_SMS, json!({ "p": "13800000007", "c": code }))
        .await;
    assert!(
        first["data"]["loginWithSms"]["token"].is_string(),
        "{first}"
    );
    let second = t
        .gql(LOGIN_SMS, json!({ "p": "13800000007", "c": code }))
        .await;
    assert_eq!(error_code(&second), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_registrations_of_one_phone_one_wins_other_conflicts() {
    let t = TestApp::spawn().await;
    t.send_code("13800000008", "REGISTER").await;
    let code = t.code_for("13800000008").await;
    let vars = json!({ "p": "13800000008", "pw": PASSWORD, "c": code, "a": true });
    let (a, b) = tokio::join!(t.gql(REGISTER, vars.clone()), t.gql(REGISTER, vars));
    let outcomes = [&a, &b].map(|r| {
        if r["data"]["register"]["token"].is_string() {
            "OK".to_owned()
        } else {
            error_code(r)
        }
    });
    let mut sorted = outcomes.to_vec();
    sorted.sort();
    assert_eq!(sorted, vec!["CONFLICT", "OK"], "{a} {b}");
}

async fn password_login(t: &TestApp, phone: &str, password: &str) -> serde_json::Value {
    let (id, answer) = t.solved_captcha().await;
    t.gql(
        LOGIN_PASSWORD,
        json!({ "p": phone, "pw": password, "id": id, "a": answer }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn password_login_needs_a_captcha_that_is_used_up_even_on_failure() {
    let t = TestApp::spawn().await;
    t.register("13800000009").await;
    let ok = password_login(&t, "13800000009", PASSWORD).await;
    assert!(ok["data"]["loginWithPassword"]["token"].is_string(), "{ok}");

    let (id, answer) = t.solved_captcha().await;
    let wrong_captcha = t
        .gql(
            LOGIN_PASSWORD,
            json!({ "p": "13800000009", "pw": PASSWORD, "id": id, "a": "WRONG" }),
        )
        .await;
    assert_eq!(error_field(&wrong_captcha), "captchaAnswer");
    let reused = t
        .gql(
            LOGIN_PASSWORD,
            json!({ "p": "13800000009", "pw": PASSWORD, "id": id, "a": answer }),
        )
        .await;
    assert_eq!(
        error_field(&reused),
        "captchaAnswer",
        "a captcha works once"
    );

    let (id, answer) = t.solved_captcha().await;
    let bad_password = t
        .gql(
            LOGIN_PASSWORD,
            json!({ "p": "13800000009", "pw": "Wrong#Pass1", "id": id, "a": answer }),
        )
        .await;
    assert_eq!(error_code(&bad_password), "UNAUTHENTICATED");
    let reused = t
        .gql(
            LOGIN_PASSWORD,
            json!({ "p": "13800000009", "pw": PASSWORD, "id": id, "a": answer }),
        )
        .await;
    assert_eq!(error_field(&reused), "captchaAnswer");

    let (id, answer) = t.solved_captcha().await;
    t.app.clock.advance(TimeDelta::seconds(121));
    let expired = t
        .gql(
            LOGIN_PASSWORD,
            json!({ "p": "13800000009", "pw": PASSWORD, "id": id, "a": answer }),
        )
        .await;
    assert_eq!(error_field(&expired), "captchaAnswer");
}

#[tokio::test(flavor = "multi_thread")]
async fn captcha_is_a_png_data_url() {
    let t = TestApp::spawn().await;
    let response = t
        .gql(
            "mutation { createCaptcha { id imagePng expiresAt } }",
            json!({}),
        )
        .await;
    let image = response["data"]["createCaptcha"]["imagePng"]
        .as_str()
        .unwrap();
    let b64 = image
        .strip_prefix("data:image/png;base64,")
        .expect("png data url");
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_phone_and_wrong_password_look_the_same() {
    let t = TestApp::spawn().await;
    t.register("13800000010").await;
    let wrong = password_login(&t, "13800000010", "Wrong#Pass1").await;
    let unknown = password_login(&t, "13900000010", "Wrong#Pass1").await;
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn five_password_failures_lock_password_login_but_not_sms_login() {
    let t = TestApp::spawn().await;
    t.register("13800000020").await;
    for _ in 0..5 {
        let r = password_login(&t, "13800000020", "Wrong#Pass1").await;
        assert_eq!(error_code(&r), "UNAUTHENTICATED");
    }
    let locked = password_login(&t, "13800000020", PASSWORD).await;
    assert_eq!(error_code(&locked), "RATE_LIMITED", "{locked}");

    t.app.clock.advance(TimeDelta::seconds(61));
    t.send_code("13800000020", "LOGIN").await;
    let code = t.code_for("13800000020").await;
    let sms = t
        .gql(LOGIN_SMS, json!({ "p": "13800000020", "c": code }))
        .await;
    assert!(sms["data"]["loginWithSms"]["token"].is_string(), "{sms}");

    t.app.clock.advance(TimeDelta::minutes(15));
    let unlocked = password_login(&t, "13800000020", PASSWORD).await;
    assert!(
        unlocked["data"]["loginWithPassword"]["token"].is_string(),
        "{unlocked}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_password_ends_every_session() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000021").await;
    t.app.clock.advance(TimeDelta::seconds(61));
    t.send_code("13800000021", "RESET_PASSWORD").await;
    let code = t.code_for("13800000021").await;
    let reset = t
        .gql(
            "mutation($p: String!, $n: String!, $c: String!) { resetPassword(phone: $p, newPassword: $n, smsCode: $c) }",
            json!({ "p": "13800000021", "n": "New#Pass2026", "c": code }),
        )
        .await;
    assert_eq!(reset["data"]["resetPassword"], true, "{reset}");
    assert!(t.gql_as(&person.token, ME, json!({})).await["data"]["me"].is_null());
    let old = password_login(&t, "13800000021", PASSWORD).await;
    assert_eq!(error_code(&old), "UNAUTHENTICATED");
    let new = password_login(&t, "13800000021", "New#Pass2026").await;
    assert!(
        new["data"]["loginWithPassword"]["token"].is_string(),
        "{new}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn change_password_needs_the_old_one_and_ends_other_sessions() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000022").await;
    let other = password_login(&t, "13800000022", PASSWORD).await;
    let other_token = other["data"]["loginWithPassword"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    const CHANGE: &str =
        "mutation($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) }";

    let wrong = t
        .gql_as(
            &person.token,
            CHANGE,
            json!({ "o": "Wrong#Pass1", "n": "New#Pass2026" }),
        )
        .await;
    assert_eq!(error_field(&wrong), "oldPassword");
    let anonymous = t
        .gql(CHANGE, json!({ "o": PASSWORD, "n": "New#Pass2026" }))
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");

    let ok = t
        .gql_as(
            &person.token,
            CHANGE,
            json!({ "o": PASSWORD, "n": "New#Pass2026" }),
        )
        .await;
    assert_eq!(ok["data"]["changePassword"], true, "{ok}");
    assert!(t.gql_as(&person.token, ME, json!({})).await["data"]["me"].is_object());
    assert!(t.gql_as(&other_token, ME, json!({})).await["data"]["me"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn change_phone_needs_a_code_from_the_new_phone_and_tells_the_old_one() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000023").await;
    t.register("13800000024").await;
    t.app.clock.advance(TimeDelta::seconds(61));
    const CHANGE: &str =
        "mutation($p: String!, $c: String!) { changePhone(newPhone: $p, smsCode: $c) { phone } }";

    t.send_code("13800000024", "CHANGE_PHONE").await;
    let code = t.code_for("13800000024").await;
    let taken = t
        .gql_as(
            &person.token,
            CHANGE,
            json!({ "p": "13800000024", "c": code }),
        )
        .await;
    assert_eq!(error_code(&taken), "CONFLICT", "{taken}");

    t.send_code("13900000023", "CHANGE_PHONE").await;
    let code = t.code_for("13900000023").await;
    let changed = t
        .gql_as(
            &person.token,
            CHANGE,
            json!({ "p": "13900000023", "c": code }),
        )
        .await;
    assert_eq!(
        changed["data"]["changePhone"]["phone"], "13900000023",
        "{changed}"
    );
    let notice = t.last_sms("13800000023").await.unwrap();
    assert!(
        notice.contains("更换绑定手机号") && notice.contains("139****0023"),
        "{notice}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn change_email_validates_and_mails_a_confirmation() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000025").await;
    const CHANGE: &str = "mutation($e: String!) { changeEmail(email: $e) { email } }";
    let bad = t
        .gql_as(&person.token, CHANGE, json!({ "e": "not an email" }))
        .await;
    assert_eq!(error_field(&bad), "email");
    let ok = t
        .gql_as(&person.token, CHANGE, json!({ "e": "hr@example.com" }))
        .await;
    assert_eq!(ok["data"]["changeEmail"]["email"], "hr@example.com");

    let mut conn = t.conn().await;
    let queued: Vec<String> = email_outbox::table
        .select(email_outbox::recipient)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, vec!["hr@example.com"]);

    // The outbox job hands it to the file transport of local mode.
    let senders = yuyunqian::app::build_senders(&t.app.config).unwrap();
    let delivered = yuyunqian::jobs::outbox::deliver_due(&mut conn, &senders, t.app.clock.now())
        .await
        .unwrap();
    assert!(delivered >= 1);
    let mail_dir = t.app.config.data_dir.join("mail");
    let files: Vec<_> = std::fs::read_dir(&mail_dir).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].path()).unwrap();
    assert!(eml.contains("hr@example.com"));
    let status: String = email_outbox::table
        .select(email_outbox::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "SENT");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_after_idling_and_after_their_lifetime() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000026").await;
    t.app.clock.advance(TimeDelta::minutes(100));
    assert!(t.gql_as(&person.token, ME, json!({})).await["data"]["me"].is_object());
    t.app.clock.advance(TimeDelta::minutes(100));
    assert!(
        t.gql_as(&person.token, ME, json!({})).await["data"]["me"].is_object(),
        "used within the idle window"
    );
    t.app.clock.advance(TimeDelta::minutes(121));
    assert!(
        t.gql_as(&person.token, ME, json!({})).await["data"]["me"].is_null(),
        "idle too long"
    );

    t.app.clock.advance(TimeDelta::seconds(61));
    t.send_code("13800000026", "LOGIN").await;
    let code = t.code_for("13800000026").await;
    let login = t
        .gql(LOGIN_SMS, json!({ "p": "13800000026", "c": code }))
        .await;
    let token = login["data"]["loginWithSms"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..90 {
        t.app
            .clock
            .advance(TimeDelta::hours(2) - TimeDelta::minutes(1));
        if t.gql_as(&token, ME, json!({})).await["data"]["me"].is_null() {
            return;
        }
    }
    panic!("the session outlived its 168-hour lifetime");
}

#[tokio::test(flavor = "multi_thread")]
async fn sensitive_changes_need_a_recent_login() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000027").await;
    t.app.clock.advance(TimeDelta::minutes(16));
    let late = t
        .gql_as(
            &person.token,
            "mutation { changeEmail(email: \"x@example.com\") { email } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&late), "FORBIDDEN", "{late}");
    let fresh = password_login(&t, "13800000027", PASSWORD).await;
    let token = fresh["data"]["loginWithPassword"]["token"]
        .as_str()
        .unwrap();
    let ok = t
        .gql_as(
            token,
            "mutation { changeEmail(email: \"x@example.com\") { email } }",
            json!({}),
        )
        .await;
    assert_eq!(ok["data"]["changeEmail"]["email"], "x@example.com", "{ok}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_old_passwords_count_toward_the_lockout() {
    let t = TestApp::spawn().await;
    let person = t.register("13800000028").await;
    const CHANGE: &str =
        "mutation($o: String!, $n: String!) { changePassword(oldPassword: $o, newPassword: $n) }";
    for _ in 0..5 {
        let r = t
            .gql_as(
                &person.token,
                CHANGE,
                json!({ "o": "Wrong#Pass1", "n": "New#Pass2026" }),
            )
            .await;
        assert_eq!(error_field(&r), "oldPassword");
    }
    let locked = t
        .gql_as(
            &person.token,
            CHANGE,
            json!({ "o": PASSWORD, "n": "New#Pass2026" }),
        )
        .await;
    assert_eq!(error_code(&locked), "RATE_LIMITED", "{locked}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_password_guesses_cannot_pass_the_lockout() {
    let t = TestApp::spawn().await;
    t.register("13800000029").await;
    let mut captchas = Vec::new();
    for _ in 0..12 {
        captchas.push(t.solved_captcha().await);
    }
    let guesses = captchas.iter().map(|(id, answer)| {
        t.gql(
            LOGIN_PASSWORD,
            json!({ "p": "13800000029", "pw": "Wrong#Pass1", "id": id, "a": answer }),
        )
    });
    let results = futures_util::future::join_all(guesses).await;
    let checked = results
        .iter()
        .filter(|r| error_code(r) == "UNAUTHENTICATED")
        .count();
    let refused = results
        .iter()
        .filter(|r| error_code(r) == "RATE_LIMITED")
        .count();
    assert_eq!((checked, refused), (5, 7), "{results:?}");
}
