//! Every example in client-examples/ runs against a real app, so the
//! documentation cannot drift from the API.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::{TestApp, ws};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("client-examples")
}

struct Examples {
    used: BTreeSet<String>,
}

impl Examples {
    /// The operation and its example variables, with `overrides` applied.
    fn load(&mut self, name: &str, overrides: Value) -> (String, Value) {
        let dir = examples_dir().join("accounts");
        let query = std::fs::read_to_string(dir.join(format!("{name}.graphql"))).unwrap();
        let mut variables: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        if let (Some(vars), Some(extra)) = (variables.as_object_mut(), overrides.as_object()) {
            for (key, value) in extra {
                assert!(
                    vars.contains_key(key),
                    "{name}.json has no example for {key}"
                );
                vars.insert(key.clone(), value.clone());
            }
        }
        self.used.insert(name.to_owned());
        (query, variables)
    }
}

fn ok(response: &Value, field: &str) -> Value {
    assert!(response.get("errors").is_none(), "{response}");
    response["data"][field].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn graphql_examples_run_in_their_documented_order() {
    let t = TestApp::spawn().await;
    let mut ex = Examples {
        used: BTreeSet::new(),
    };
    let phone = "13800000000";

    let (q, v) = ex.load("send-sms-code", json!({}));
    assert_eq!(
        ok(&t.gql(&q, v).await, "sendSmsCode")["sentTo"],
        "138****0000"
    );
    let (q, v) = ex.load("register", json!({ "smsCode": t.code_for(phone).await }));
    let token = ok(&t.gql(&q, v).await, "register")["token"]
        .as_str()
        .unwrap()
        .to_owned();

    t.app.clock.advance(TimeDelta::seconds(61));
    let (q, v) = ex.load("send-login-code", json!({}));
    ok(&t.gql(&q, v).await, "sendSmsCode");
    let (q, v) = ex.load(
        "login-with-sms",
        json!({ "smsCode": t.code_for(phone).await }),
    );
    assert!(ok(&t.gql(&q, v).await, "loginWithSms")["token"].is_string());

    let (q, v) = ex.load("create-captcha", json!({}));
    let captcha_id = ok(&t.gql(&q, v).await, "createCaptcha")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.set_captcha_answer(&captcha_id, "K7P2Q").await;
    let (q, v) = ex.load("login-with-password", json!({ "captchaId": captcha_id }));
    assert!(ok(&t.gql(&q, v).await, "loginWithPassword")["token"].is_string());

    let (q, v) = ex.load("me", json!({}));
    assert_eq!(ok(&t.gql_as(&token, &q, v).await, "me")["phone"], phone);

    t.app.clock.advance(TimeDelta::seconds(61));
    let (q, v) = ex.load("start-real-name-verification", json!({}));
    let started = ok(&t.gql_as(&token, &q, v).await, "startRealNameVerification");
    assert_eq!(started["status"], "PENDING");
    let (q, v) = ex.load(
        "confirm-real-name-verification",
        json!({ "id": started["id"], "smsCode": t.code_for(phone).await }),
    );
    assert_eq!(
        ok(
            &t.gql_as(&token, &q, v).await,
            "confirmRealNameVerification"
        )["status"],
        "VERIFIED"
    );

    // The subscription, over a real WebSocket.
    let addr = t.serve().await;
    let mut socket = ws::connect(addr, "graphql-transport-ws").await;
    assert_eq!(
        ws::init(&mut socket, Some(&token)).await["type"],
        "connection_ack"
    );
    let (q, v) = ex.load("me-updated", json!({}));
    ws::send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": q, "variables": v } }),
    )
    .await;
    tokio::time::sleep(crate::helpers::ws::SUBSCRIPTION_SETTLE).await;

    let (q, v) = ex.load("change-email", json!({}));
    assert_eq!(
        ok(&t.gql_as(&token, &q, v).await, "changeEmail")["email"],
        "hr@example.com"
    );
    let update = ws::next(&mut socket).await;
    assert_eq!(
        update["payload"]["data"]["meUpdated"]["realNameStatus"], "VERIFIED",
        "{update}"
    );

    let (q, v) = ex.load("logout", json!({}));
    assert_eq!(ok(&t.gql_as(&token, &q, v).await, "logout"), true);

    let on_disk: BTreeSet<String> = std::fs::read_dir(examples_dir().join("accounts"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".graphql").map(str::to_owned)
        })
        .collect();
    assert_eq!(on_disk, ex.used, "every example is run by this test");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs curl: run by .ci/run"]
async fn shell_example_registers_logs_in_and_reads_me() {
    let t = TestApp::with_config(|c| c.limits.sms_resend_secs = 1).await;
    let addr = t.serve().await;
    let script = examples_dir().join("register-and-login.sh");
    let output = tokio::process::Command::new("sh")
        .arg(script)
        .arg("13800000099")
        .env("YYQ_URL", format!("http://{addr}"))
        .env("YYQ_BIN", env!("CARGO_BIN_EXE_yuyunqian"))
        .env("YYQ_DATABASE_URL", t.database_url())
        .env("YYQ_LOG", "error")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "script failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"phone\":\"13800000099\""), "{stdout}");
    assert!(stdout.trim_end().ends_with("done"));
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs node and `npm ci` in client-examples/node: run by .ci/run"]
async fn node_example_prints_a_tasks_progress_while_it_is_signed() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = examples_dir().join("node");
    assert!(
        dir.join("node_modules").exists(),
        "run `npm ci` in {} first",
        dir.display()
    );
    let t = TestApp::spawn().await;
    let addr = t.serve().await;
    let s = crate::signing::scene(&t, "13800020801", "13500020801").await;
    t.app.clock.advance(TimeDelta::seconds(61));
    let r = t
        .gql(
            "mutation { sendSmsCode(phone: \"13500020801\", purpose: LOGIN) { sentTo } }",
            json!({}),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    let sms = t.last_sms("13500020801").await.unwrap();
    let code = crate::helpers::test_app::extract_code(&sms).unwrap();

    let mut child = tokio::process::Command::new("node")
        .arg("watch-task.mjs")
        .current_dir(&dir)
        .env("YYQ_URL", format!("http://{addr}"))
        .env("YYQ_PHONE", "13500020801")
        .env("YYQ_SMS_CODE", &code)
        .env("YYQ_TASK_ID", &s.task)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the example connects")
        .unwrap();
    assert_eq!(first.as_deref(), Some("{\"connected\":true}"));
    tokio::time::sleep(ws::SUBSCRIPTION_SETTLE).await;

    let code = crate::signing::code_for(&t, &s.employee, &s.task).await;
    let r = crate::signing::sign(
        &t,
        &s.employee,
        json!({ "taskId": s.task, "smsCode": code, "fieldValues": { "employee_phone": "13500020801" } }),
    )
    .await;
    crate::signing::ok(&r, "signTask");
    let code = crate::signing::code_for(&t, &s.c.admin, &s.task).await;
    let r = crate::signing::sign(
        &t,
        &s.c.admin,
        json!({ "taskId": s.task, "enterpriseId": s.c.enterprise, "smsCode": code }),
    )
    .await;
    crate::signing::ok(&r, "signTask");

    let mut printed = Vec::new();
    while let Some(line) =
        tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("events within 30 s")
            .unwrap()
    {
        printed.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "node exited with {status}: {printed:?}");
    let kinds: Vec<(&str, &str)> = printed
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["signer"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("SIGNER_SIGNED", "employee"),
            ("SIGNER_PENDING", "employer"),
            ("SIGNER_SIGNED", "employer"),
            ("TASK_COMPLETED", "-"),
        ]
    );
    assert_eq!(printed[3]["taskStatus"], "COMPLETED");
}
