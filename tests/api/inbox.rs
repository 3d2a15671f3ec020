//! Inboxes and who sees a task: the visibility matrix (ADMIN, members with
//! different grants, a confidential task, a CC'd user, the signing
//! employees), counts that hide what the lists hide, search, and a list of
//! 50 tasks in a fixed number of SQL statements.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::contracts::{
    fill_all, grant_quota, labor_values, onboarding_layout, published, published_labor_template,
};
use crate::helpers::flows::{Certified, certified, member};
use crate::helpers::sql_count;
use crate::helpers::test_app::{Person, error_code};
use crate::signing::initiated_and_filled;
use crate::templates::business_type;

const INITIATE: &str = "mutation($i: InitiateBatchInput!) { initiateSigningBatch(input: $i) { id tasks { edges { node { id } } } } }";
const ENTERPRISE_TASKS: &str = "query($e: ID!, $b: TaskBox!, $s: String, $bt: ID, $first: Int, $after: String) { enterprise(id: $e) { tasks(box: $b, search: $s, businessTypeId: $bt, first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } } }";
const MY_TASKS: &str =
    "query($b: TaskBox!) { me { tasks(box: $b) { totalCount edges { node { id title } } } } }";
const TASK: &str =
    "query($t: ID!) { task(id: $t) { id title confidential cc { id } handler { id } } }";

fn ok<'a>(r: &'a Value, field: &str) -> &'a Value {
    assert!(r.get("errors").is_none(), "{field}: {r}");
    &r["data"][field]
}

fn labor_batch(
    c: &Certified,
    bt: &str,
    template: &str,
    title: &str,
    people: &[(&str, &str)],
) -> Value {
    let rows: Vec<Value> = people
        .iter()
        .map(|(name, phone)| json!({ "person": { "name": name, "phone": phone }, "values": labor_values(name) }))
        .collect();
    json!({
        "enterpriseId": c.enterprise,
        "title": title,
        "businessTypeId": bt,
        "templateIds": [template],
        "signOrder": "UNORDERED",
        "enterpriseSigners": [{ "roleKey": "employer", "enterpriseId": c.enterprise }],
        "personSigner": { "roleKey": "employee" },
        "rows": rows,
    })
}

async fn titles(
    t: &TestApp,
    person: &Person,
    enterprise: &str,
    task_box: &str,
) -> (Vec<String>, i64) {
    let r = t
        .gql_as(
            &person.token,
            ENTERPRISE_TASKS,
            json!({ "e": enterprise, "b": task_box, "first": 100 }),
        )
        .await;
    let list = &ok(&r, "enterprise")["tasks"];
    let mut titles: Vec<String> = list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    (titles, list["totalCount"].as_i64().unwrap())
}

async fn my_titles(t: &TestApp, person: &Person, task_box: &str) -> (Vec<String>, i64) {
    let r = t
        .gql_as(&person.token, MY_TASKS, json!({ "b": task_box }))
        .await;
    let list = &ok(&r, "me")["tasks"];
    let titles = list["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect();
    (titles, list["totalCount"].as_i64().unwrap())
}

async fn grants(t: &TestApp, c: &Certified, user: &Person, types: &[&str], seals: &[&str]) {
    let r = t
        .gql_as(
            &c.admin.token,
            "mutation($e: ID!, $u: ID!, $b: [ID!]!, $s: [ID!]!) { updateMemberGrants(enterpriseId: $e, userId: $u, businessTypeIds: $b, sealIds: $s) { role } }",
            json!({ "e": c.enterprise, "u": user.user_id, "b": types, "s": seals }),
        )
        .await;
    ok(&r, "updateMemberGrants");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_viewer_sees_exactly_the_tasks_the_rules_give_it() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800007001",
        "郑州收件科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    grant_quota(&t, &c.enterprise, 100).await;
    let labor = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let onboarding = business_type(&t, &c.admin, &c.enterprise, "入职").await;
    let labor_template = published_labor_template(&t, &c).await;
    let onboarding_template = published(&t, &c, "入职", onboarding_layout()).await;

    let seals = t
        .gql_as(
            &c.admin.token,
            "query($e: ID!) { enterprise(id: $e) { seals { id kind } } }",
            json!({ "e": c.enterprise }),
        )
        .await;
    let official = ok(&seals, "enterprise")["seals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "OFFICIAL")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // hr: 劳动合同 with the official seal; sealless: 劳动合同 without a seal;
    // clerk: 入职 only.
    let hr = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800007002",
        "41010519900307123X",
        json!([]),
    )
    .await;
    let sealless = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800007003",
        "410105199003071256",
        json!([]),
    )
    .await;
    let clerk = member(
        &t,
        &c.admin,
        &c.enterprise,
        "13800007004",
        "410105199003074537",
        json!([]),
    )
    .await;
    grants(&t, &c, &hr, &[&labor], &[&official]).await;
    grants(&t, &c, &sealless, &[&labor], &[]).await;
    grants(&t, &c, &clerk, &[&onboarding], &[]).await;
    // The employee of the first row has an account; the second has none yet.
    let employee = t.verified_person("13500007001", "410105199003074545").await;
    let watcher = t.verified_person("13800007005", "11010519491231002X").await;

    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": labor_batch(&c, &labor, &labor_template, "公开续签", &[("员工甲", "13500007001"), ("员工乙", "13500007002")]) }))
        .await;
    ok(&r, "initiateSigningBatch");
    let mut secret = labor_batch(
        &c,
        &labor,
        &labor_template,
        "保密续签",
        &[("员工丙", "13500007003")],
    );
    secret["confidential"] = json!(true);
    secret["ccUserIds"] = json!([watcher.user_id]);
    let r = t
        .gql_as(&c.admin.token, INITIATE, json!({ "i": secret }))
        .await;
    let secret_task = ok(&r, "initiateSigningBatch")["tasks"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let onboarding_batch = json!({
        "enterpriseId": c.enterprise,
        "title": "入职确认",
        "businessTypeId": onboarding,
        "templateIds": [onboarding_template],
        "signOrder": "UNORDERED",
        "enterpriseSigners": [{ "roleKey": "company", "enterpriseId": c.enterprise }],
        "personSigner": { "roleKey": "staff" },
        "rows": [{ "person": { "name": "员工丁", "phone": "13500007004" }, "values": {} }],
    });
    ok(
        &t.gql_as(&c.admin.token, INITIATE, json!({ "i": onboarding_batch }))
            .await,
        "initiateSigningBatch",
    );

    // Nothing is to be signed before the documents are filled.
    assert_eq!(titles(&t, &c.admin, &c.enterprise, "TO_SIGN").await.1, 0);
    assert_eq!(my_titles(&t, &employee, "TO_SIGN").await.1, 0);
    fill_all(&t).await;

    let all = vec!["保密续签", "入职确认", "公开续签", "公开续签"];
    let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
    assert_eq!(
        titles(&t, &c.admin, &c.enterprise, "TO_SIGN").await,
        (all.clone(), 4)
    );
    assert_eq!(
        titles(&t, &c.admin, &c.enterprise, "INITIATED").await,
        (all, 4)
    );
    let public = vec!["公开续签".to_owned(), "公开续签".to_owned()];
    assert_eq!(
        titles(&t, &hr, &c.enterprise, "TO_SIGN").await,
        (public.clone(), 2)
    );
    assert_eq!(
        titles(&t, &hr, &c.enterprise, "INITIATED").await,
        (public.clone(), 2)
    );
    // Granted the type but no seal: sees the tasks, has nothing to sign.
    assert_eq!(
        titles(&t, &sealless, &c.enterprise, "TO_SIGN").await,
        (vec![], 0)
    );
    assert_eq!(
        titles(&t, &sealless, &c.enterprise, "INITIATED").await,
        (public, 2)
    );
    assert_eq!(
        titles(&t, &clerk, &c.enterprise, "TO_SIGN").await,
        (vec![], 0)
    );
    assert_eq!(
        titles(&t, &clerk, &c.enterprise, "INITIATED").await,
        (vec!["入职确认".to_owned()], 1)
    );
    assert_eq!(titles(&t, &hr, &c.enterprise, "COMPLETED").await.1, 0);

    // Personal spaces: the employee's own task; the CC'd user's.
    assert_eq!(
        my_titles(&t, &employee, "TO_SIGN").await,
        (vec!["公开续签".to_owned()], 1)
    );
    assert_eq!(
        my_titles(&t, &watcher, "CC").await,
        (vec!["保密续签".to_owned()], 1)
    );
    assert_eq!(my_titles(&t, &watcher, "TO_SIGN").await.1, 0);
    assert_eq!(my_titles(&t, &hr, "CC").await.1, 0);
    let r = t
        .gql_as(
            &c.admin.token,
            ENTERPRISE_TASKS,
            json!({ "e": c.enterprise, "b": "CC" }),
        )
        .await;
    assert_eq!(error_code(&r), "BAD_USER_INPUT", "{r}");

    // The confidential task: the ADMIN (initiator, handler) and the CC'd
    // user see it; the members and the employees of other tasks do not.
    let r = t
        .gql_as(&c.admin.token, TASK, json!({ "t": secret_task }))
        .await;
    let task = ok(&r, "task");
    assert_eq!(task["confidential"], true);
    assert_eq!(
        task["handler"]["id"], c.admin.user_id,
        "the initiator handles it"
    );
    assert_eq!(task["cc"][0]["id"], watcher.user_id);
    let r = t
        .gql_as(&watcher.token, TASK, json!({ "t": secret_task }))
        .await;
    ok(&r, "task");
    for outsider in [&hr, &sealless, &clerk, &employee] {
        let r = t
            .gql_as(&outsider.token, TASK, json!({ "t": secret_task }))
            .await;
        assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    }

    // Search and the business-type filter narrow lists and counts alike.
    let r = t
        .gql_as(
            &c.admin.token,
            ENTERPRISE_TASKS,
            json!({ "e": c.enterprise, "b": "INITIATED", "s": "员工乙" }),
        )
        .await;
    let found = &ok(&r, "enterprise")["tasks"];
    assert_eq!(found["totalCount"], 1);
    assert_eq!(found["edges"][0]["node"]["title"], "公开续签");
    let r = t
        .gql_as(
            &c.admin.token,
            ENTERPRISE_TASKS,
            json!({ "e": c.enterprise, "b": "INITIATED", "s": "保密" }),
        )
        .await;
    assert_eq!(ok(&r, "enterprise")["tasks"]["totalCount"], 1);
    let r = t
        .gql_as(
            &c.admin.token,
            ENTERPRISE_TASKS,
            json!({ "e": c.enterprise, "b": "INITIATED", "bt": onboarding }),
        )
        .await;
    assert_eq!(ok(&r, "enterprise")["tasks"]["totalCount"], 1);
    let r = t
        .gql_as(
            &c.admin.token,
            ENTERPRISE_TASKS,
            json!({ "e": c.enterprise, "b": "INITIATED", "s": "%" }),
        )
        .await;
    assert_eq!(
        ok(&r, "enterprise")["tasks"]["totalCount"],
        0,
        "wildcards are literal"
    );

    // Pages follow the cursor.
    let r = t
        .gql_as(
            &c.admin.token,
            ENTERPRISE_TASKS,
            json!({ "e": c.enterprise, "b": "INITIATED", "first": 3 }),
        )
        .await;
    let page = &ok(&r, "enterprise")["tasks"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let r = t
        .gql_as(&c.admin.token, ENTERPRISE_TASKS, json!({ "e": c.enterprise, "b": "INITIATED", "first": 3, "after": page["pageInfo"]["endCursor"] }))
        .await;
    let rest = &ok(&r, "enterprise")["tasks"];
    assert_eq!(rest["edges"].as_array().unwrap().len(), 1);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_tasks_costs_the_same_statements_for_10_or_50() {
    sql_count::install();
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800007011",
        "郑州语句科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    grant_quota(&t, &c.enterprise, 60).await;
    let labor = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let template = published_labor_template(&t, &c).await;
    let people: Vec<(String, String)> = (0..50)
        .map(|i| (format!("员工{i}"), format!("135000{:05}", i)))
        .collect();
    let refs: Vec<(&str, &str)> = people
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_str()))
        .collect();
    let r = t
        .gql_as(
            &c.admin.token,
            INITIATE,
            json!({ "i": labor_batch(&c, &labor, &template, "批量续签", &refs) }),
        )
        .await;
    ok(&r, "initiateSigningBatch");
    fill_all(&t).await;
    const LIST: &str = "query($e: ID!, $first: Int) { enterprise(id: $e) { tasks(box: INITIATED, first: $first) { totalCount edges { node { id title businessType { name } initiator { name } initiatedBy { id } signers { name status role { key } enterprise { name } } documents { name pages { page } file { url } sealSlots { sealKind } } } } } } }";
    // A first request does the per-session work (e.g. refreshing its idle
    // timer) so that both measured ones do the same.
    let r = t
        .gql_as(
            &c.admin.token,
            LIST,
            json!({ "e": c.enterprise, "first": 1 }),
        )
        .await;
    ok(&r, "enterprise");
    let mut costs = Vec::new();
    for first in [10, 50] {
        let before = sql_count::statements(t.database_url());
        let r = t
            .gql_as(
                &c.admin.token,
                LIST,
                json!({ "e": c.enterprise, "first": first }),
            )
            .await;
        let edges = ok(&r, "enterprise")["tasks"]["edges"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(edges, first as usize);
        costs.push(sql_count::statements(t.database_url()) - before);
    }
    assert!(costs[0] > 0, "the hook counts");
    assert_eq!(
        costs[0], costs[1],
        "statements per page do not grow with its size: {costs:?}"
    );
    assert!(costs[1] <= 25, "{costs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_enterprise_sees_the_tasks_it_signs_and_nothing_else() {
    let t = TestApp::spawn().await;
    let c = certified(
        &t,
        "13800007021",
        "郑州发起科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let partner =
        crate::templates::other_enterprise(&t, "13800007022", "郑州合作科技有限公司").await;
    grant_quota(&t, &c.enterprise, 10).await;
    let labor = business_type(&t, &c.admin, &c.enterprise, "劳动合同").await;
    let three_parties = crate::templates::three_party_layout("partner", 600.0);
    let template = published(&t, &c, "劳动合同", three_parties).await;
    let mut batch = labor_batch(
        &c,
        &labor,
        &template,
        "三方协议",
        &[("员工戊", "13500007021")],
    );
    batch["enterpriseSigners"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "roleKey": "partner", "enterpriseId": partner.enterprise }));
    let task = initiated_and_filled(&t, &c.admin.token, batch).await;

    let three = vec!["三方协议".to_owned()];
    assert_eq!(
        titles(&t, &partner.admin, &partner.enterprise, "TO_SIGN").await,
        (three.clone(), 1)
    );
    assert_eq!(
        titles(&t, &partner.admin, &partner.enterprise, "INITIATED")
            .await
            .1,
        0
    );
    let r = t
        .gql_as(&partner.admin.token, TASK, json!({ "t": task }))
        .await;
    ok(&r, "task");
    // A member of the partner without its seal sees nothing of it.
    let outsider = member(
        &t,
        &partner.admin,
        &partner.enterprise,
        "13800007023",
        "41010519900307123X",
        json!([]),
    )
    .await;
    assert_eq!(
        titles(&t, &outsider, &partner.enterprise, "TO_SIGN")
            .await
            .1,
        0
    );
    assert_eq!(
        titles(&t, &outsider, &partner.enterprise, "WAITING_FOR_OTHERS")
            .await
            .1,
        0
    );
    let r = t.gql_as(&outsider.token, TASK, json!({ "t": task })).await;
    assert_eq!(error_code(&r), "NOT_FOUND", "{r}");
    // The initiator's space lists it as initiated, not the partner's.
    assert_eq!(
        titles(&t, &c.admin, &c.enterprise, "INITIATED").await,
        (three, 1)
    );
}
