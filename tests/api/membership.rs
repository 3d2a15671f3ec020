//! Membership: the enterprise space is for members only, join applications,
//! grants by business type, removing members and handing over the ADMIN role.

use chrono::TimeDelta;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::flows::certified_enterprise;
use crate::helpers::test_app::{Person, error_code, error_field};

const SPACE: &str = "query($e: ID!) { enterprise(id: $e) { id name viewerRole status businessTypes { id name } members { totalCount edges { node { role user { phone } businessTypes { name } } } } } }";

/// A verified person; each phone gets its own valid resident ID.
async fn joiner(t: &TestApp, phone: &str) -> Person {
    const IDS: [&str; 4] = [
        "11010519491231002X",
        "110101199003071233",
        "410102198506152310",
        "410103199211084446",
    ];
    let index = phone.bytes().last().map_or(0, |b| usize::from(b - b'0')) % IDS.len();
    t.app.clock.advance(TimeDelta::seconds(61));
    t.verified_person(phone, IDS[index]).await
}

async fn apply(t: &TestApp, person: &Person, enterprise: &str) -> Value {
    t.gql_as(
        &person.token,
        "mutation($e: ID!) { applyToJoinEnterprise(enterpriseId: $e, reason: \"入职人事部\") { id status enterprise { name } } }",
        json!({ "e": enterprise }),
    )
    .await
}

async fn business_type(t: &TestApp, admin: &Person, enterprise: &str, name: &str) -> String {
    let space = t
        .gql_as(&admin.token, SPACE, json!({ "e": enterprise }))
        .await;
    space["data"]["enterprise"]["businessTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bt| bt["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_enterprise_space_is_for_members_only() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800000901",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let space = t
        .gql_as(&admin.token, SPACE, json!({ "e": enterprise }))
        .await;
    let e = &space["data"]["enterprise"];
    assert_eq!(e["viewerRole"], "ADMIN", "{space}");
    assert_eq!(e["status"], "CERTIFIED");
    let names: Vec<&str> = e["businessTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["劳动合同", "劳务派遣合同", "入职", "离职"]);
    assert_eq!(e["members"]["totalCount"], 1);

    let stranger = joiner(&t, "13800000902").await;
    let r = t
        .gql_as(&stranger.token, SPACE, json!({ "e": enterprise }))
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");
    let r = t
        .gql_as(
            &stranger.token,
            "mutation($e: ID!) { createBusinessType(enterpriseId: $e, name: \"x\") { id } }",
            json!({ "e": enterprise }),
        )
        .await;
    assert_eq!(error_code(&r), "NOT_FOUND");

    let audit = t
        .gql_as(&admin.token, "query($e: ID!) { enterprise(id: $e) { auditLogs(first: 50) { totalCount edges { node { action hash actor { phone } } } } } }", json!({ "e": enterprise }))
        .await;
    let logs = &audit["data"]["enterprise"]["auditLogs"];
    // The enterprise's own log opens with its approval; the application
    // before it is on the platform's log.
    let actions: Vec<&str> = logs["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..2],
        ["enterprise.certify", "certificate_order.transition"],
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_finds_certified_enterprises_by_name() {
    let t = TestApp::spawn().await;
    let (admin, _) = certified_enterprise(
        &t,
        "13800000903",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let r = t
        .gql_as(
            &admin.token,
            "{ searchEnterprises(name: \"云签\") { name status } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["searchEnterprises"][0]["name"], "郑州云签科技有限公司",
        "{r}"
    );
    let r = t
        .gql_as(
            &admin.token,
            "{ searchEnterprises(name: \"云\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error_field(&r), "name");
    let r = t
        .gql_as(
            &admin.token,
            "{ searchEnterprises(name: \"不存在的公司\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["searchEnterprises"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn members_join_by_application_and_see_only_granted_business_types() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800000904",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let member = joiner(&t, "13800000905").await;
    let applied = apply(&t, &member, &enterprise).await;
    assert_eq!(
        applied["data"]["applyToJoinEnterprise"]["status"], "PENDING",
        "{applied}"
    );
    assert_eq!(
        error_code(&apply(&t, &member, &enterprise).await),
        "CONFLICT"
    );

    let pending = t
        .gql_as(&admin.token, "query($e: ID!) { enterprise(id: $e) { joinApplications(status: PENDING) { id applicant { phone } } } }", json!({ "e": enterprise }))
        .await;
    let application = pending["data"]["enterprise"]["joinApplications"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let labor = business_type(&t, &admin, &enterprise, "劳动合同").await;
    let r = t
        .gql_as(&admin.token, "mutation($a: ID!, $b: [ID!]) { reviewJoinApplication(id: $a, approve: true, businessTypeIds: $b) { status } }", json!({ "a": application, "b": [labor] }))
        .await;
    assert_eq!(
        r["data"]["reviewJoinApplication"]["status"], "APPROVED",
        "{r}"
    );

    let space = t
        .gql_as(&member.token, SPACE, json!({ "e": enterprise }))
        .await;
    let e = &space["data"]["enterprise"];
    assert_eq!(e["viewerRole"], "MEMBER", "{space}");
    let names: Vec<&str> = e["businessTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["劳动合同"]);
    assert_eq!(e["members"]["totalCount"], 2);
    let r = t
        .gql_as(
            &member.token,
            "query($e: ID!) { enterprise(id: $e) { joinApplications { id } } }",
            json!({ "e": enterprise }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let mine = t
        .gql_as(
            &member.token,
            "{ me { memberships { role enterprise { name } businessTypes { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["memberships"][0]["role"], "MEMBER",
        "{mine}"
    );
    assert_eq!(
        mine["data"]["me"]["memberships"][0]["businessTypes"][0]["name"],
        "劳动合同"
    );

    // Grants change only by the ADMIN, and only to the enterprise's types.
    let entry = business_type(&t, &admin, &enterprise, "入职").await;
    const GRANTS: &str = "mutation($e: ID!, $u: ID!, $b: [ID!]!) { updateMemberGrants(enterpriseId: $e, userId: $u, businessTypeIds: $b, sealIds: []) { businessTypes { name } } }";
    let r = t
        .gql_as(
            &member.token,
            GRANTS,
            json!({ "e": enterprise, "u": member.user_id, "b": [entry] }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let r = t.gql_as(&admin.token, GRANTS, json!({ "e": enterprise, "u": member.user_id, "b": [uuid::Uuid::new_v4().to_string()] })).await;
    assert_eq!(error_field(&r), "businessTypeIds");
    let r = t
        .gql_as(
            &admin.token,
            GRANTS,
            json!({ "e": enterprise, "u": member.user_id, "b": [entry, labor] }),
        )
        .await;
    let mut granted: Vec<&str> = r["data"]["updateMemberGrants"]["businessTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    granted.sort();
    assert_eq!(granted, ["入职", "劳动合同"], "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn applications_can_be_cancelled_rejected_and_made_again() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800000906",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let person = joiner(&t, "13800000907").await;
    let first = apply(&t, &person, &enterprise).await;
    let id = first["data"]["applyToJoinEnterprise"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .gql_as(
            &person.token,
            "mutation($a: ID!) { cancelJoinApplication(id: $a) { status } }",
            json!({ "a": id }),
        )
        .await;
    assert_eq!(
        r["data"]["cancelJoinApplication"]["status"], "CANCELLED",
        "{r}"
    );
    let second = apply(&t, &person, &enterprise).await;
    let id = second["data"]["applyToJoinEnterprise"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = t
        .gql_as(&admin.token, "mutation($a: ID!) { reviewJoinApplication(id: $a, approve: false, reason: \"不是本公司员工\") { status } }", json!({ "a": id }))
        .await;
    assert_eq!(
        r["data"]["reviewJoinApplication"]["status"], "REJECTED",
        "{r}"
    );
    assert_eq!(
        apply(&t, &person, &enterprise).await["data"]["applyToJoinEnterprise"]["status"],
        "PENDING"
    );
    let mine = t
        .gql_as(
            &person.token,
            "{ me { joinApplications { status } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["me"]["joinApplications"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_removed_and_the_admin_role_is_handed_over() {
    let t = TestApp::spawn().await;
    let (admin, enterprise) = certified_enterprise(
        &t,
        "13800000908",
        "郑州云签科技有限公司",
        "91350100M000100Y43",
    )
    .await;
    let mut members = Vec::new();
    for phone in ["13800000909", "13800000910"] {
        let person = joiner(&t, phone).await;
        let applied = apply(&t, &person, &enterprise).await;
        let id = applied["data"]["applyToJoinEnterprise"]["id"].clone();
        t.gql_as(
            &admin.token,
            "mutation($a: ID!) { reviewJoinApplication(id: $a, approve: true) { status } }",
            json!({ "a": id }),
        )
        .await;
        members.push(person);
    }
    const REMOVE: &str = "mutation($e: ID!, $u: ID!, $t: ID) { removeMember(enterpriseId: $e, userId: $u, transferToUserId: $t) }";
    let r = t
        .gql_as(
            &admin.token,
            REMOVE,
            json!({ "e": enterprise, "u": admin.user_id }),
        )
        .await;
    assert_eq!(
        error_code(&r),
        "CONFLICT",
        "the ADMIN leaves only by handing over"
    );
    let r = t.gql_as(&admin.token, REMOVE, json!({ "e": enterprise, "u": members[0].user_id, "t": uuid::Uuid::new_v4().to_string() })).await;
    assert_eq!(error_field(&r), "transferToUserId");
    let r = t
        .gql_as(
            &admin.token,
            REMOVE,
            json!({ "e": enterprise, "u": members[0].user_id, "t": members[1].user_id }),
        )
        .await;
    assert_eq!(r["data"]["removeMember"], true, "{r}");
    assert_eq!(
        error_code(
            &t.gql_as(&members[0].token, SPACE, json!({ "e": enterprise }))
                .await
        ),
        "NOT_FOUND"
    );

    let r = t
        .gql_as(
            &admin.token,
            "mutation($e: ID!, $u: ID!) { transferAdmin(enterpriseId: $e, toUserId: $u) { name } }",
            json!({ "e": enterprise, "u": members[1].user_id }),
        )
        .await;
    assert!(r.get("errors").is_none(), "{r}");
    assert_eq!(
        error_code(
            &t.gql_as(&admin.token, SPACE, json!({ "e": enterprise }))
                .await
        ),
        "NOT_FOUND"
    );
    let space = t
        .gql_as(&members[1].token, SPACE, json!({ "e": enterprise }))
        .await;
    assert_eq!(space["data"]["enterprise"]["viewerRole"], "ADMIN");

    let r = t
        .gql_as(
            &members[1].token,
            "mutation($e: ID!) { createBusinessType(enterpriseId: $e, name: \"入职\") { id } }",
            json!({ "e": enterprise }),
        )
        .await;
    assert_eq!(error_code(&r), "CONFLICT");
    let r = t
        .gql_as(&members[1].token, "mutation($e: ID!) { createBusinessType(enterpriseId: $e, name: \"实习协议\") { name } }", json!({ "e": enterprise }))
        .await;
    assert_eq!(r["data"]["createBusinessType"]["name"], "实习协议");

    let mut conn = t.conn().await;
    let report = yuyunqian::domain::audit::verify(&mut conn).await.unwrap();
    assert_eq!(report.first_broken, None);
}
