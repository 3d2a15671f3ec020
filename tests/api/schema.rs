//! `schema.graphql` is the exported SDL; the names clients rely on are in it.

#[test]
fn schema_graphql_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let current = yuyunqian::graphql::sdl();
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    if stored != current {
        std::fs::write(&path, &current).unwrap();
        panic!("schema.graphql was stale and has been rewritten: review and commit it");
    }
}

#[test]
fn schema_keeps_the_account_names_of_the_api_sketch() {
    let sdl = yuyunqian::graphql::sdl();
    for name in [
        "me: User",
        "sendSmsCode(",
        "createCaptcha: Captcha!",
        "register(",
        "loginWithSms(",
        "loginWithPassword(",
        "createCertificateChallenge: CertificateChallenge!",
        "loginWithCertificate(",
        "resetPassword(",
        "logout: Boolean!",
        "changePassword(",
        "changePhone(",
        "changeEmail(",
        "bindUkey(",
        "startRealNameVerification(",
        "confirmRealNameVerification(",
        "enum SmsPurpose",
        "enum IdType",
        "enum RealNameMethod",
        "enum RealNameStatus",
        "type SendCodeResult",
        "idNumberMasked: String",
        "ukeyBound: Boolean!",
        "faceUrl: String",
    ] {
        assert!(sdl.contains(name), "schema lacks {name}");
    }
}

#[test]
fn schema_keeps_the_template_names_of_the_api_sketch() {
    let sdl = yuyunqian::graphql::sdl();
    for name in [
        "enum TemplateStatus",
        "enum PartyKind",
        "type FieldPlacement",
        "type SealSlot",
        "type SignerRole",
        "type PageSize",
        "type TemplateConnection",
        "input TemplateLayoutInput",
        "input FieldPlacementInput",
        "input SealSlotInput",
        "input SignerRoleInput",
        "template(id: ID!): Template",
        "templates(after: String, first: Int, status: TemplateStatus): TemplateConnection!",
        "createTemplate(",
        "updateTemplateLayout(",
        "publishTemplate(",
        "copyTemplate(",
        "setTemplateStatus(",
        "previewTemplate(",
        "fontSize: Float! = 12",
        "required: Boolean! = true",
    ] {
        assert!(sdl.contains(name), "schema lacks {name}");
    }
}

#[test]
fn schema_keeps_the_task_names_of_the_api_sketch() {
    let sdl = yuyunqian::graphql::sdl();
    for name in [
        "input InitiateBatchInput",
        "input BatchRowInput",
        "input PersonInput",
        "input EnterpriseSignerInput",
        "input PersonSignerInput",
        "type BatchValidation",
        "type RowError",
        "type SigningBatch",
        "type SigningTask",
        "type TaskDocument",
        "type TaskConnection",
        "type Signer",
        "type Contact",
        "enum SignOrder",
        "enum SignerStatus",
        "enum TaskStatus",
        "enum VoidReason",
        "enum DocumentStatus",
        "validateSigningBatch(input: InitiateBatchInput!): BatchValidation!",
        "initiateSigningBatch(input: InitiateBatchInput!): SigningBatch!",
        "addFrequentContact(",
        "removeFrequentContact(id: ID!): Boolean!",
        "quotaBalance: Int!",
        "frequentContacts: [Contact!]!",
        "rows: [BatchRowInput!]",
        "idempotencyKey: String",
        "enum TaskBox",
        "revokeTasks(reason: String!, taskIds: [ID!]!): [SigningTask!]!",
        "remindSigners(taskIds: [ID!]!): Int!",
        "refuseTask(reason: String!, taskId: ID!): SigningTask!",
        "sendSigningCode(taskId: ID!): SendCodeResult!",
        "pageTrace(code: String!): PageTrace",
        "type PageTrace",
        "previewSigningDocument(input: InitiateBatchInput!, row: Int!, templateId: ID!): File!",
        "sheet: Upload",
        "batchSheetTemplate(enterpriseId: ID!, signerCompletedFieldKeys: [String!], templateIds: [ID!]!): File!",
        "task(id: ID!): SigningTask",
        "tasks(after: String, box: TaskBox!, businessTypeId: ID, first: Int, search: String): TaskConnection!",
    ] {
        assert!(sdl.contains(name), "schema lacks {name}");
    }
}

#[test]
fn export_schema_command_prints_the_same_sdl() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_yuyunqian"))
        .arg("export-schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        yuyunqian::graphql::sdl()
    );
}
