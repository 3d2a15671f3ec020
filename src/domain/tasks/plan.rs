//! Checking a batch before anything is written: the batch's shape (its
//! enterprise, business type, templates, signers, CC) fails as a whole with
//! BAD_USER_INPUT; each row's problems become row errors, all of them, so
//! an initiator fixes a sheet in one pass.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use crate::db::enterprises::{Enterprise, Memberships};
use crate::db::enums::{
    EnterpriseStatus, PartyKind, RealNameStatus, SealStatus, SignOrder, TemplateStatus,
};
use crate::db::field_definitions::FieldDefinition;
use crate::db::ids::{BusinessTypeId, EnterpriseId, FieldId, SealId, TemplateId, UserId};
use crate::db::seals::Seal;
use crate::db::templates::{Layout, Template, TemplateField};
use crate::db::users::User;
use crate::domain::accounts::phone::parse_phone;
use crate::domain::identity_numbers::resident_id_valid;
use crate::domain::membership::{member_of, visible_business_types};
use crate::domain::tasks::sheet;
use crate::domain::tasks::values::{Cell, display, normalize};
use crate::domain::{Viewer, templates};
use crate::error::{AppError, AppResult, RowError};
use crate::pdf::fill::{FieldText, check_fits};
use crate::pdf::font::Fonts;

pub const MAX_ROWS: usize = 5000;
pub const MAX_TEMPLATES: usize = 10;
pub const MAX_CC: usize = 20;

pub struct EnterpriseSignerInput {
    pub role_key: String,
    pub enterprise: EnterpriseId,
    pub step: i32,
    pub can_refuse: bool,
    pub cross_page_seal: Option<SealId>,
}

pub struct PersonSignerInput {
    pub role_key: String,
    pub step: i32,
    pub can_refuse: bool,
}

pub struct RowInput {
    /// The number errors give: the position in a page form, the row in a
    /// sheet.
    pub number: i32,
    pub name: String,
    pub phone: String,
    /// A sheet may hold it as a number, which has lost digits.
    pub id_number: Option<Cell>,
    /// Field key -> value, in the order given.
    pub values: Vec<(String, Cell)>,
}

pub struct BatchInput {
    pub enterprise: EnterpriseId,
    pub title: String,
    pub business_type: BusinessTypeId,
    pub confidential: bool,
    pub handler: Option<UserId>,
    pub templates: Vec<TemplateId>,
    pub add_page_qr_codes: bool,
    pub sign_order: SignOrder,
    pub deadline: Option<DateTime<Utc>>,
    pub enterprise_signers: Vec<EnterpriseSignerInput>,
    pub person_signer: PersonSignerInput,
    pub cc: Vec<UserId>,
    pub signer_completed_field_keys: Vec<String>,
    pub rows: Rows,
    pub idempotency_key: Option<String>,
}

/// The rows of a batch: typed in a page form, or an uploaded sheet.
pub enum Rows {
    Form(Vec<RowInput>),
    /// An .xlsx file (see `sheet`).
    Sheet(Vec<u8>),
}

fn check_row_count(field: &str, count: usize) -> AppResult<()> {
    if count == 0 {
        return Err(bad(field, "a batch has at least one row"));
    }
    if count > MAX_ROWS {
        return Err(bad(field, format!("a batch has at most {MAX_ROWS} rows")));
    }
    Ok(())
}

pub struct PlannedTemplate {
    pub template: Template,
    pub layout: Layout,
}

/// A role of the batch: the same key in every template that has it.
pub struct PlannedRole {
    pub key: String,
    pub name: String,
    pub kind: PartyKind,
}

/// A field the initiator fills, with where it is drawn.
pub struct FillField {
    pub definition: FieldDefinition,
    pub required: bool,
    /// (template index, the template's properties of the field).
    pub placements: Vec<(usize, TemplateField)>,
}

pub struct PlannedRow {
    /// As in row errors.
    pub number: i32,
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
    /// Field key -> stored value (see `values::normalize`).
    pub values: BTreeMap<String, String>,
}

pub struct Plan {
    pub enterprise: Enterprise,
    pub handler: Option<UserId>,
    pub templates: Vec<PlannedTemplate>,
    pub roles: Vec<PlannedRole>,
    pub fields: Vec<FillField>,
    pub rows: Vec<PlannedRow>,
    pub errors: Vec<RowError>,
}

fn bad(field: &str, message: impl std::fmt::Display) -> AppError {
    AppError::bad_input(format!("input.{field}"), message)
}

/// The fixed information of the initiating enterprise, used where a row
/// leaves these fields empty.
pub fn enterprise_defaults(enterprise: &Enterprise) -> [(&'static str, String); 4] {
    [
        ("employer_name", enterprise.name.clone()),
        ("employer_uscc", enterprise.uscc.clone()),
        ("employer_legal_rep", enterprise.legal_rep_name.clone()),
        (
            "employer_address",
            enterprise.address.clone().unwrap_or_default(),
        ),
    ]
}

/// Checks `input` and every row; row problems are in `Plan::errors`.
pub async fn plan(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    input: &BatchInput,
    now: DateTime<Utc>,
) -> AppResult<Plan> {
    let (enterprise, _) = member_of(conn, viewer, input.enterprise).await?;
    if enterprise.status != EnterpriseStatus::Certified {
        return Err(AppError::Conflict(
            "the enterprise must be certified to start signing tasks".into(),
        ));
    }
    if !visible_business_types(conn, viewer, input.enterprise)
        .await?
        .iter()
        .any(|(id, _)| *id == input.business_type)
    {
        return Err(AppError::NotFound("business type"));
    }
    let title = input.title.trim();
    if title.is_empty() || title.chars().count() > 100 || title.chars().any(char::is_control) {
        return Err(bad("title", "a title has 1 to 100 characters"));
    }
    if input.deadline.is_some_and(|d| d <= now) {
        return Err(bad("deadline", "the deadline has passed"));
    }
    if let Rows::Form(rows) = &input.rows {
        check_row_count("rows", rows.len())?;
    }

    let templates = load_templates(
        conn,
        viewer,
        input.enterprise,
        Some(input.business_type),
        &input.templates,
    )
    .await?;
    let roles = roles_of(&templates)?;
    check_signers(conn, input, &roles).await?;
    let handler = check_people(conn, viewer, input).await?;
    let definitions: HashMap<FieldId, FieldDefinition> =
        FieldDefinition::catalogue_and_custom(conn, &[input.enterprise])
            .await?
            .into_iter()
            .map(|f| (f.id, f))
            .collect();
    let fields = fill_fields(&templates, &definitions, &input.signer_completed_field_keys)?;
    if !input.signer_completed_field_keys.is_empty() {
        check_signer_completion(input)?;
    }
    let parsed;
    let given: &[RowInput] = match &input.rows {
        Rows::Form(rows) => rows,
        Rows::Sheet(bytes) => {
            let bytes = bytes.clone();
            let columns = sheet::columns(&fields);
            parsed = tokio::task::spawn_blocking(move || sheet::read(&bytes, &columns))
                .await?
                .map_err(|message| AppError::bad_input("input.sheet", message))?;
            check_row_count("sheet", parsed.len())?;
            &parsed
        }
    };
    let (rows, errors) = check_rows(&enterprise, &templates, &fields, given)?;
    Ok(Plan {
        enterprise,
        handler,
        templates,
        roles,
        fields,
        rows,
        errors,
    })
}

/// The PUBLISHED templates `ids` of `enterprise`, all of one business
/// type (`business_type`, or the first template's).
pub async fn load_templates(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    enterprise: EnterpriseId,
    business_type: Option<BusinessTypeId>,
    ids: &[TemplateId],
) -> AppResult<Vec<PlannedTemplate>> {
    if ids.is_empty() || ids.len() > MAX_TEMPLATES {
        return Err(bad(
            "templateIds",
            format!("a batch uses 1 to {MAX_TEMPLATES} templates"),
        ));
    }
    let mut seen = HashSet::new();
    let mut loaded: Vec<PlannedTemplate> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(bad(&format!("templateIds[{i}]"), "the template repeats"));
        }
        let template = templates::find(conn, viewer, *id).await?;
        let expected = business_type
            .or_else(|| loaded.first().map(|t| t.template.business_type_id))
            .unwrap_or(template.business_type_id);
        if template.enterprise_id != enterprise || template.business_type_id != expected {
            return Err(bad(
                &format!("templateIds[{i}]"),
                "the template belongs to another business type",
            ));
        }
        if template.status != TemplateStatus::Published {
            return Err(bad(
                &format!("templateIds[{i}]"),
                "only PUBLISHED templates start tasks",
            ));
        }
        let layout = Layout::of_template(conn, template.id).await?;
        loaded.push(PlannedTemplate { template, layout });
    }
    Ok(loaded)
}

/// The roles of all templates, one per key; a key means the same party
/// (same kind) in every template, and a batch has one PERSON role.
fn roles_of(templates: &[PlannedTemplate]) -> AppResult<Vec<PlannedRole>> {
    let mut roles: Vec<PlannedRole> = Vec::new();
    for planned in templates {
        for role in &planned.layout.roles {
            match roles.iter().find(|r| r.key == role.key) {
                Some(known) if known.kind != role.kind => {
                    return Err(bad(
                        "templateIds",
                        format!(
                            "role {:?} is an enterprise in one template and a person in another",
                            role.key
                        ),
                    ));
                }
                Some(_) => {}
                None => roles.push(PlannedRole {
                    key: role.key.clone(),
                    name: role.name.clone(),
                    kind: role.kind,
                }),
            }
        }
    }
    if roles.iter().filter(|r| r.kind == PartyKind::Person).count() != 1 {
        return Err(bad(
            "templateIds",
            "a batch's templates have exactly one PERSON role: the employee of each row",
        ));
    }
    Ok(roles)
}

async fn check_signers(
    conn: &mut AsyncPgConnection,
    input: &BatchInput,
    roles: &[PlannedRole],
) -> AppResult<()> {
    let person_role = roles
        .iter()
        .find(|r| r.kind == PartyKind::Person)
        .ok_or_else(|| bad("personSigner.roleKey", "no PERSON role"))?;
    if input.person_signer.role_key != person_role.key {
        return Err(bad(
            "personSigner.roleKey",
            format!("the templates' PERSON role is {:?}", person_role.key),
        ));
    }
    if !(1..=20).contains(&input.person_signer.step) {
        return Err(bad("personSigner.step", "a step is 1 to 20"));
    }
    let mut assigned = HashSet::new();
    for (i, signer) in input.enterprise_signers.iter().enumerate() {
        let path = format!("enterpriseSigners[{i}]");
        let role = roles
            .iter()
            .find(|r| r.key == signer.role_key && r.kind == PartyKind::Enterprise)
            .ok_or_else(|| {
                bad(
                    &format!("{path}.roleKey"),
                    format!("no ENTERPRISE role {:?} in the templates", signer.role_key),
                )
            })?;
        if !assigned.insert(role.key.as_str()) {
            return Err(bad(
                &format!("{path}.roleKey"),
                "the role has a signer already",
            ));
        }
        if !(1..=20).contains(&signer.step) {
            return Err(bad(&format!("{path}.step"), "a step is 1 to 20"));
        }
        let enterprise = Enterprise::find_many(conn, &[signer.enterprise])
            .await?
            .into_iter()
            .next();
        if enterprise.is_none_or(|e| e.status != EnterpriseStatus::Certified) {
            return Err(bad(
                &format!("{path}.enterpriseId"),
                "signers are certified enterprises",
            ));
        }
        if let Some(seal) = signer.cross_page_seal {
            // Only the initiator's own seals: another enterprise stamps its own.
            let usable = signer.enterprise == input.enterprise
                && Seal::find(conn, seal).await?.is_some_and(|s| {
                    s.enterprise_id == Some(input.enterprise) && s.status == SealStatus::Enabled
                });
            if !usable {
                return Err(bad(
                    &format!("{path}.crossPageSealId"),
                    "a cross-page seal is an enabled seal of the initiating enterprise",
                ));
            }
        }
    }
    if let Some(missing) = roles
        .iter()
        .find(|r| r.kind == PartyKind::Enterprise && !assigned.contains(r.key.as_str()))
    {
        return Err(bad(
            "enterpriseSigners",
            format!("role {:?} ({}) has no signer", missing.key, missing.name),
        ));
    }
    Ok(())
}

/// The handler and CC'd users; the handler (confidential tasks default to
/// the initiator).
async fn check_people(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    input: &BatchInput,
) -> AppResult<Option<UserId>> {
    let handler = match input.handler {
        Some(handler) => {
            if Memberships::role_of(conn, input.enterprise, handler)
                .await?
                .is_none()
            {
                return Err(bad(
                    "handlerId",
                    "the handler is a member of the enterprise",
                ));
            }
            Some(handler)
        }
        None => input.confidential.then_some(viewer.user_id),
    };
    if input.cc.len() > MAX_CC {
        return Err(bad("ccUserIds", format!("at most {MAX_CC} users")));
    }
    let users = User::find_many(conn, &input.cc).await?;
    for (i, id) in input.cc.iter().enumerate() {
        let verified = users
            .iter()
            .any(|u| u.id == *id && u.real_name_status == RealNameStatus::Verified);
        if !verified {
            return Err(bad(
                &format!("ccUserIds[{i}]"),
                "CC goes to registered users who passed real-name verification",
            ));
        }
    }
    Ok(handler)
}

/// 乙方补全信息: only when the person signs before the initiating
/// enterprise, which signs last, in SEQUENTIAL order.
fn check_signer_completion(input: &BatchInput) -> AppResult<()> {
    let own_step = input
        .enterprise_signers
        .iter()
        .filter(|s| s.enterprise == input.enterprise)
        .map(|s| s.step)
        .min();
    let others_last = input
        .enterprise_signers
        .iter()
        .filter(|s| s.enterprise != input.enterprise)
        .map(|s| s.step)
        .chain([input.person_signer.step])
        .max()
        .unwrap_or(0);
    let last = own_step.is_some_and(|own| own > others_last);
    if input.sign_order != SignOrder::Sequential || !last {
        return Err(bad(
            "signerCompletedFieldKeys",
            "the signer completes fields only in SEQUENTIAL order with the initiating enterprise signing last",
        ));
    }
    Ok(())
}

/// What the initiator fills: every placed field except those a role
/// fills when signing and those left to the signer.
pub fn fill_fields(
    templates: &[PlannedTemplate],
    definitions: &HashMap<FieldId, FieldDefinition>,
    signer_completed: &[String],
) -> AppResult<Vec<FillField>> {
    let mut fields: Vec<FillField> = Vec::new();
    let mut placed_keys = HashSet::new();
    for (index, planned) in templates.iter().enumerate() {
        for properties in &planned.layout.fields {
            let definition = definitions
                .get(&properties.field_id)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("a placed field vanished")))?;
            placed_keys.insert(definition.key.clone());
            if properties.filled_by_role_id.is_some() || signer_completed.contains(&definition.key)
            {
                continue;
            }
            match fields.iter_mut().find(|f| f.definition.id == definition.id) {
                Some(field) => {
                    field.required |= properties.required;
                    field.placements.push((index, properties.clone()));
                }
                None => fields.push(FillField {
                    definition: definition.clone(),
                    required: properties.required,
                    placements: vec![(index, properties.clone())],
                }),
            }
        }
    }
    for (i, key) in signer_completed.iter().enumerate() {
        if !placed_keys.contains(key) {
            return Err(bad(
                &format!("signerCompletedFieldKeys[{i}]"),
                "no template of the batch places this field",
            ));
        }
    }
    Ok(fields)
}

fn check_rows(
    enterprise: &Enterprise,
    templates: &[PlannedTemplate],
    fields: &[FillField],
    rows: &[RowInput],
) -> AppResult<(Vec<PlannedRow>, Vec<RowError>)> {
    let fonts = Fonts::new().map_err(AppError::internal)?;
    let defaults = enterprise_defaults(enterprise);
    let mut errors = Vec::new();
    let mut planned = Vec::with_capacity(rows.len());
    let mut phones: HashMap<String, i32> = HashMap::new();
    for row in rows {
        let number = row.number;
        let mut error = |column: &str, message: String| {
            errors.push(RowError {
                row: number,
                column: Some(column.to_owned()),
                message,
            });
        };
        let name = row.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 30 || name.chars().any(char::is_control) {
            error("person.name", "a name has 1 to 30 characters".into());
        }
        let phone = match parse_phone("", &row.phone) {
            Ok(phone) => {
                if let Some(first) = phones.get(&phone) {
                    error(
                        "person.phone",
                        format!("the same phone as row {first}: one task per person"),
                    );
                } else {
                    phones.insert(phone.clone(), number);
                }
                phone
            }
            Err(_) => {
                error(
                    "person.phone",
                    "a mainland mobile number: 11 digits starting 13-19".into(),
                );
                String::new()
            }
        };
        let id_number = match &row.id_number {
            None => None,
            Some(Cell::Text(id)) if id.trim().is_empty() => None,
            Some(Cell::Text(id)) => {
                let id = id.trim().to_uppercase();
                if !resident_id_valid(&id) {
                    error(
                        "person.idNumber",
                        "not a valid resident ID number (GB 11643 checksum)".into(),
                    );
                }
                Some(id)
            }
            Some(Cell::Error) => {
                error(
                    "person.idNumber",
                    "the cell holds a spreadsheet error (#N/A, #DIV/0!, ...)".into(),
                );
                None
            }
            Some(_) => {
                error(
                    "person.idNumber",
                    "an ID number stored as a number loses its last digits: format the column as text"
                        .into(),
                );
                None
            }
        };
        let mut values = BTreeMap::new();
        // Refused values are reported once, not again as missing.
        let mut refused: HashSet<&str> = HashSet::new();
        for (key, cell) in &row.values {
            let Some(field) = fields.iter().find(|f| f.definition.key == *key) else {
                error(
                    key,
                    "the initiator does not fill this field in this batch".into(),
                );
                continue;
            };
            match normalize(field.definition.field_type, cell) {
                Ok(Some(value)) => {
                    values.insert(key.clone(), value);
                }
                Ok(None) => {}
                Err(message) => {
                    refused.insert(key);
                    error(key, message);
                }
            }
        }
        for (key, value) in &defaults {
            if !value.is_empty()
                && fields.iter().any(|f| f.definition.key == *key)
                && !values.contains_key(*key)
            {
                values.insert((*key).to_owned(), value.clone());
            }
        }
        for field in fields {
            let key = &field.definition.key;
            let Some(value) = values.get(key) else {
                if field.required && !refused.contains(key.as_str()) {
                    error(key, format!("{} is required", field.definition.label));
                }
                continue;
            };
            for (index, properties) in &field.placements {
                let planned_template = &templates[*index];
                let text = display(
                    field.definition.field_type,
                    properties.date_format.as_deref(),
                    value,
                );
                for field_box in planned_template
                    .layout
                    .boxes
                    .iter()
                    .filter(|b| b.template_field_id == properties.id)
                {
                    let check = check_fits(
                        &fonts,
                        &FieldText {
                            key,
                            page: 0,
                            x: 0.0,
                            y: 0.0,
                            width: field_box.width,
                            height: field_box.height,
                            font_size: properties.font_size,
                            text: &text,
                        },
                    );
                    if let Err(e) = check {
                        error(
                            key,
                            format!("{e} (template {})", planned_template.template.name),
                        );
                        break;
                    }
                }
            }
        }
        planned.push(PlannedRow {
            number,
            name,
            phone,
            id_number,
            values,
        });
    }
    Ok((planned, errors))
}
