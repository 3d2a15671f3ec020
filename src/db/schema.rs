// The shape `diesel print-schema` gives for the migrations in /migrations
// (regenerate with diesel_cli and diesel.toml when the SQL changes). A column
// that disagrees with the database fails the integration tests that use it.

diesel::table! {
    audit_chain_heads (chain) {
        chain -> Uuid,
        hash -> Bytea,
    }
}

diesel::table! {
    audit_logs (id) {
        id -> Int8,
        chain -> Nullable<Uuid>,
        at -> Timestamptz,
        actor_user_id -> Nullable<Uuid>,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        details -> Jsonb,
        client_ip -> Nullable<Text>,
        prev_hash -> Bytea,
        hash -> Bytea,
    }
}

diesel::table! {
    business_types (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        name -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    captchas (id) {
        id -> Uuid,
        answer_hash -> Bytea,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    certificate_challenges (id) {
        id -> Uuid,
        nonce -> Bytea,
        expires_at -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    certificate_orders (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        applicant_id -> Uuid,
        kind -> Text,
        method -> Text,
        status -> Text,
        certificate_kind -> Text,
        csr_pem -> Nullable<Text>,
        seal_kinds -> Array<Text>,
        handler_name -> Text,
        handler_id_enc -> Bytea,
        handler_id_masked -> Text,
        handler_phone -> Text,
        handler_email -> Nullable<Text>,
        legal_rep_bank_card_masked -> Nullable<Text>,
        payment_mac -> Nullable<Bytea>,
        authorization_attempts -> Int4,
        authorization_letter_id -> Nullable<Uuid>,
        business_license_id -> Nullable<Uuid>,
        handler_id_front_id -> Nullable<Uuid>,
        handler_id_back_id -> Nullable<Uuid>,
        reject_reason -> Nullable<Text>,
        certificate_id -> Nullable<Uuid>,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        new_name -> Nullable<Text>,
        renews_certificate_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    certificates (id) {
        id -> Uuid,
        serial_hex -> Text,
        kind -> Text,
        algorithm -> Text,
        user_id -> Nullable<Uuid>,
        subject -> Text,
        issuer -> Text,
        certificate_der -> Bytea,
        private_key_enc -> Nullable<Bytea>,
        not_before -> Timestamptz,
        not_after -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revocation_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        enterprise_id -> Nullable<Uuid>,
        expiry_reminded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    enterprises (id) {
        id -> Uuid,
        name -> Text,
        uscc -> Text,
        address -> Nullable<Text>,
        legal_rep_name -> Text,
        legal_rep_id_enc -> Bytea,
        legal_rep_id_masked -> Text,
        legal_rep_phone -> Text,
        status -> Text,
        certificate_kind -> Text,
        created_at -> Timestamptz,
        certified_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    files (id) {
        id -> Uuid,
        sha256 -> Text,
        name -> Text,
        content_type -> Text,
        size -> Int8,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    identity_checks (id) {
        id -> Uuid,
        user_id -> Uuid,
        method -> Text,
        status -> Text,
        id_type -> Text,
        name -> Text,
        id_number_enc -> Bytea,
        id_number_hash -> Bytea,
        id_number_masked -> Text,
        email -> Nullable<Text>,
        bank_card_masked -> Nullable<Text>,
        provider -> Text,
        provider_ref -> Text,
        failure_reason -> Nullable<Text>,
        client_ip -> Text,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    join_applications (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        applicant_id -> Uuid,
        reason -> Text,
        status -> Text,
        decision_reason -> Nullable<Text>,
        decided_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        phone -> Text,
        client_ip -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    platform_roles (user_id, role) {
        user_id -> Uuid,
        role -> Text,
        region -> Nullable<Text>,
        granted_at -> Timestamptz,
    }
}

diesel::table! {
    member_business_types (enterprise_id, user_id, business_type_id) {
        enterprise_id -> Uuid,
        user_id -> Uuid,
        business_type_id -> Uuid,
    }
}

diesel::table! {
    memberships (enterprise_id, user_id) {
        enterprise_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        joined_at -> Timestamptz,
    }
}

diesel::table! {
    platform_keys (purpose, algorithm) {
        purpose -> Text,
        algorithm -> Text,
        certificate_der -> Bytea,
        private_key_enc -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    seal_grants (seal_id, user_id) {
        seal_id -> Uuid,
        enterprise_id -> Uuid,
        user_id -> Uuid,
        granted_at -> Timestamptz,
    }
}

diesel::table! {
    seals (id) {
        id -> Uuid,
        enterprise_id -> Nullable<Uuid>,
        owner_user_id -> Nullable<Uuid>,
        kind -> Text,
        name -> Text,
        status -> Text,
        image_file_id -> Uuid,
        image_sha256 -> Text,
        certificate_id -> Nullable<Uuid>,
        valid_from -> Timestamptz,
        valid_until -> Nullable<Timestamptz>,
        record_signature -> Bytea,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    sms_code_sends (id) {
        id -> Int8,
        phone -> Text,
        client_ip -> Text,
        sent_at -> Timestamptz,
    }
}

diesel::table! {
    sms_codes (id) {
        id -> Uuid,
        phone -> Text,
        purpose -> Text,
        code_hash -> Bytea,
        attempts -> Int4,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sms_outbox (id) {
        id -> Uuid,
        phone -> Text,
        body -> Text,
        sensitive -> Bool,
        expires_at -> Nullable<Timestamptz>,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        phone -> Text,
        password_hash -> Nullable<Text>,
        email -> Nullable<Text>,
        name -> Nullable<Text>,
        id_type -> Nullable<Text>,
        id_number_enc -> Nullable<Bytea>,
        id_number_hash -> Nullable<Bytea>,
        id_number_masked -> Nullable<Text>,
        real_name_status -> Text,
        real_name_verified_at -> Nullable<Timestamptz>,
        ukey_fingerprint -> Nullable<Text>,
        ukey_certificate_pem -> Nullable<Text>,
        agreements_accepted_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(audit_logs -> users (actor_user_id));
diesel::joinable!(business_types -> enterprises (enterprise_id));
diesel::joinable!(certificate_orders -> enterprises (enterprise_id));
diesel::joinable!(certificates -> enterprises (enterprise_id));
diesel::joinable!(files -> users (created_by));
diesel::joinable!(join_applications -> enterprises (enterprise_id));
diesel::joinable!(member_business_types -> business_types (business_type_id));
diesel::joinable!(memberships -> enterprises (enterprise_id));
diesel::joinable!(seal_grants -> seals (seal_id));
diesel::joinable!(seals -> enterprises (enterprise_id));
diesel::joinable!(seals -> files (image_file_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(certificates -> users (user_id));
diesel::joinable!(identity_checks -> users (user_id));
diesel::joinable!(platform_roles -> users (user_id));
diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    field_definitions (id) {
        id -> Uuid,
        enterprise_id -> Nullable<Uuid>,
        business_type_id -> Nullable<Uuid>,
        catalogue -> Nullable<Text>,
        key -> Text,
        label -> Text,
        field_type -> Text,
        required_in_template -> Bool,
        position -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    signature_captures (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        seal_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    templates (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        business_type_id -> Uuid,
        name -> Text,
        status -> Text,
        file_id -> Uuid,
        page_widths -> Array<Float4>,
        page_heights -> Array<Float4>,
        copied_from_id -> Nullable<Uuid>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    template_roles (id) {
        id -> Uuid,
        template_id -> Uuid,
        key -> Text,
        name -> Text,
        kind -> Text,
        position -> Int4,
    }
}

diesel::table! {
    template_fields (id) {
        id -> Uuid,
        template_id -> Uuid,
        field_id -> Uuid,
        font_size -> Float4,
        required -> Bool,
        date_format -> Nullable<Text>,
        filled_by_role_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    template_field_boxes (id) {
        id -> Uuid,
        template_id -> Uuid,
        template_field_id -> Uuid,
        page -> Int4,
        x -> Float4,
        y -> Float4,
        width -> Float4,
        height -> Float4,
        position -> Int4,
    }
}

diesel::table! {
    template_seal_slots (id) {
        id -> Uuid,
        template_id -> Uuid,
        role_id -> Uuid,
        seal_kind -> Text,
        page -> Int4,
        x -> Float4,
        y -> Float4,
        position -> Int4,
    }
}

diesel::joinable!(template_fields -> field_definitions (field_id));

diesel::table! {
    frequent_contacts (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        name -> Text,
        phone -> Text,
        enterprise_name -> Nullable<Text>,
        created_by -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    signing_batches (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        business_type_id -> Uuid,
        title -> Text,
        initiated_by -> Uuid,
        idempotency_key -> Nullable<Text>,
        input_sha256 -> Text,
        task_count -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    signing_tasks (id) {
        id -> Uuid,
        batch_id -> Uuid,
        row_number -> Int4,
        enterprise_id -> Uuid,
        business_type_id -> Uuid,
        title -> Text,
        confidential -> Bool,
        status -> Text,
        void_reason -> Nullable<Text>,
        void_note -> Nullable<Text>,
        initiated_by -> Uuid,
        handler_id -> Nullable<Uuid>,
        sign_order -> Text,
        deadline -> Nullable<Timestamptz>,
        add_page_qr_codes -> Bool,
        values_enc -> Bytea,
        signer_completed_field_keys -> Array<Text>,
        ready_at -> Nullable<Timestamptz>,
        fill_attempts -> Int4,
        fill_error -> Nullable<Text>,
        created_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
        all_signed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    task_signers (id) {
        id -> Uuid,
        task_id -> Uuid,
        position -> Int4,
        kind -> Text,
        role_key -> Text,
        role_name -> Text,
        step -> Int4,
        can_refuse -> Bool,
        status -> Text,
        enterprise_id -> Nullable<Uuid>,
        cross_page_seal_id -> Nullable<Uuid>,
        user_id -> Nullable<Uuid>,
        person_name -> Nullable<Text>,
        person_phone -> Nullable<Text>,
        person_id_number_hash -> Nullable<Bytea>,
        signed_at -> Nullable<Timestamptz>,
        refused_at -> Nullable<Timestamptz>,
        refuse_reason -> Nullable<Text>,
        reminded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    task_documents (id) {
        id -> Uuid,
        task_id -> Uuid,
        position -> Int4,
        template_id -> Uuid,
        name -> Text,
        status -> Text,
        file_id -> Nullable<Uuid>,
        page_count -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    task_cc (task_id, user_id) {
        task_id -> Uuid,
        user_id -> Uuid,
    }
}

diesel::table! {
    quota_balances (enterprise_id) {
        enterprise_id -> Uuid,
        balance -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    quota_ledger (id) {
        id -> Uuid,
        enterprise_id -> Uuid,
        kind -> Text,
        amount -> Int4,
        task_id -> Nullable<Uuid>,
        note -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(task_signers -> signing_tasks (task_id));
diesel::joinable!(task_documents -> signing_tasks (task_id));
diesel::joinable!(task_cc -> signing_tasks (task_id));
diesel::joinable!(signing_tasks -> signing_batches (batch_id));

diesel::table! {
    signing_codes (task_id, user_id) {
        task_id -> Uuid,
        user_id -> Uuid,
        phone -> Text,
        code_hash -> Bytea,
        attempts -> Int4,
        expires_at -> Timestamptz,
        consumed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    signing_attempts (id) {
        id -> Uuid,
        task_id -> Uuid,
        signer_id -> Uuid,
        user_id -> Uuid,
        code_mac -> Bytea,
        status -> Text,
        plan_enc -> Bytea,
        certificate_id -> Uuid,
        client_ip -> Text,
        user_agent -> Nullable<Text>,
        revisions -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    signature_evidence (id) {
        id -> Uuid,
        attempt_id -> Uuid,
        task_id -> Uuid,
        signer_id -> Uuid,
        document_id -> Uuid,
        user_id -> Uuid,
        code_mac -> Bytea,
        client_ip -> Text,
        user_agent -> Nullable<Text>,
        sha256_before -> Text,
        sha256_after -> Text,
        certificate_serial -> Text,
        signed_at -> Timestamptz,
    }
}

diesel::table! {
    regulator_reports (id) {
        id -> Uuid,
        task_id -> Uuid,
        enterprise_id -> Uuid,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(signing_attempts -> signing_tasks (task_id));
diesel::joinable!(signature_evidence -> signing_attempts (attempt_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_chain_heads,
    audit_logs,
    business_types,
    captchas,
    certificate_challenges,
    certificate_orders,
    certificates,
    email_outbox,
    enterprises,
    field_definitions,
    files,
    frequent_contacts,
    identity_checks,
    join_applications,
    login_failures,
    member_business_types,
    memberships,
    platform_keys,
    platform_roles,
    quota_balances,
    quota_ledger,
    regulator_reports,
    seal_grants,
    seals,
    sessions,
    signature_captures,
    signature_evidence,
    signing_attempts,
    signing_batches,
    signing_codes,
    signing_tasks,
    sms_code_sends,
    sms_codes,
    sms_outbox,
    task_cc,
    task_documents,
    task_signers,
    template_field_boxes,
    template_fields,
    template_roles,
    template_seal_slots,
    templates,
    users,
);
