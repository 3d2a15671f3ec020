//! The Chinese texts users receive.

pub const SIGNATURE: &str = "【豫云签】";

/// The text of a verification code SMS for `purpose` (one of the SmsPurpose names).
pub fn verification_code(purpose: &str, code: &str) -> String {
    let action = match purpose {
        "REGISTER" => "注册账号",
        "LOGIN" => "登录",
        "RESET_PASSWORD" => "重置密码",
        "CHANGE_PHONE" => "更换手机号",
        "REAL_NAME" => "实名认证",
        "ORDER_AUTHORIZATION" => "授权企业认证",
        "ORDER_CONFIRMATION" => "确认企业认证申请",
        _ => "身份验证",
    };
    format!("{SIGNATURE}您正在{action}，验证码：{code}，5分钟内有效。请勿将验证码告知他人。")
}

pub fn phone_changed(new_phone_masked: &str) -> String {
    format!("{SIGNATURE}您的账号已更换绑定手机号为{new_phone_masked}，如非本人操作请立即联系客服。")
}

pub fn email_changed_subject() -> &'static str {
    "豫云签：邮箱绑定成功"
}

pub fn email_changed_body() -> String {
    "您好：\n\n您的豫云签账号已绑定此邮箱，今后的合同通知将发送到这里。\n如非本人操作，请登录平台修改或联系客服。\n\n豫云签电子劳动合同服务平台".to_owned()
}

pub fn email_moved_body(new_address: &str) -> String {
    format!(
        "您好：\n\n您的豫云签账号的通知邮箱已改为 {new_address}，此邮箱将不再接收合同通知。\n如非本人操作，请立即登录平台修改密码或联系客服。\n\n豫云签电子劳动合同服务平台"
    )
}

pub fn ukey_bound() -> String {
    format!(
        "{SIGNATURE}您的账号已绑定新的数字证书（Ukey），可用于证书登录。如非本人操作请立即修改密码并联系客服。"
    )
}

/// What the local payment adapter's "bank" says of its verification transfer.
pub fn payment_received(enterprise: &str, fen: u32) -> String {
    format!(
        "【银行通知】{enterprise}对公账户收到豫云签认证打款0.{fen:02}元。请在豫云签填写收到的金额以完成企业认证授权。"
    )
}

/// What an order applies for, as texts name it.
pub fn order_label(kind: &str) -> &'static str {
    match kind {
        "RENEWAL" => "数字证书续期申请",
        "RECERTIFICATION" => "企业重新认证申请",
        "ADMIN_CHANGE" => "超级管理员变更申请",
        _ => "企业认证申请",
    }
}

/// With no handler email on file the reason goes into the SMS itself.
pub fn order_rejected_sms(enterprise: &str, kind: &str, reason: Option<&str>) -> String {
    let what = order_label(kind);
    match reason {
        Some(reason) => format!(
            "{SIGNATURE}{enterprise}的{what}未通过审核，原因：{reason}。修改材料后可重新提交。"
        ),
        None => format!(
            "{SIGNATURE}{enterprise}的{what}未通过审核，原因已发送至经办人邮箱。修改材料后可重新提交。"
        ),
    }
}

pub fn order_rejected_subject(kind: &str) -> String {
    format!("豫云签：{}未通过审核", order_label(kind))
}

pub fn order_rejected_body(enterprise: &str, kind: &str, reason: &str) -> String {
    let what = order_label(kind);
    format!(
        "您好：\n\n{enterprise}的{what}未通过审核。\n原因：{reason}\n\n请登录豫云签上传更正后的材料，申请将重新进入审核。\n\n豫云签电子劳动合同服务平台"
    )
}

pub fn order_approved_sms(enterprise: &str) -> String {
    format!("{SIGNATURE}{enterprise}已通过企业认证，数字证书已签发。您已成为该企业的超级管理员。")
}

pub fn renewal_approved_sms(enterprise: &str, not_after: &str) -> String {
    format!("{SIGNATURE}{enterprise}的数字证书已续期，新证书有效期至{not_after}。")
}

pub fn recertification_approved_sms(enterprise: &str) -> String {
    format!(
        "{SIGNATURE}{enterprise}已完成重新认证，数字证书和印章已按新名称重新签发，请重新为成员授权印章。"
    )
}

pub fn admin_change_approved_sms(enterprise: &str) -> String {
    format!("{SIGNATURE}您已成为{enterprise}的超级管理员。")
}

pub fn admin_replaced_sms(enterprise: &str) -> String {
    format!(
        "{SIGNATURE}经法定代表人授权和平台审核，您已不再是{enterprise}的超级管理员，并已移出该企业。"
    )
}

pub fn certificate_expiring_sms(enterprise: &str, not_after: &str) -> String {
    format!(
        "{SIGNATURE}{enterprise}的数字证书将于{not_after}到期，到期后将无法签署合同。请登录豫云签申请证书续期。"
    )
}

pub fn certificate_expiring_subject() -> &'static str {
    "豫云签：企业数字证书即将到期"
}

pub fn certificate_expiring_body(enterprise: &str, not_after: &str) -> String {
    format!(
        "您好：\n\n{enterprise}的数字证书将于{not_after}到期，到期后将无法以该企业名义签署合同。\n请登录豫云签，在企业证书列表中申请证书续期。\n\n豫云签电子劳动合同服务平台"
    )
}

/// `138****0000`, for logs and texts that must not carry the full number.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "***".to_owned()
    }
}

/// The SMS a signer gets when a task waits for them.
pub fn signing_invitation(enterprise: &str, title: &str, link: &str) -> String {
    format!("{SIGNATURE}{enterprise}邀请您签署《{title}》，请登录豫云签查看并签署：{link}")
}

/// The SMS a signer gets when the initiator revokes a task.
pub fn task_revoked(enterprise: &str, title: &str) -> String {
    format!("{SIGNATURE}{enterprise}已撤销签署任务《{title}》，您无需再签署。")
}

/// The reminder (催办) a pending signer gets.
pub fn signing_reminder(enterprise: &str, title: &str, link: &str) -> String {
    format!("{SIGNATURE}{enterprise}提醒您尽快签署《{title}》，请登录豫云签查看并签署：{link}")
}

/// Everyone involved hears that a signer refused and the task ended.
pub fn task_refused(signer: &str, title: &str) -> String {
    format!("{SIGNATURE}{signer}拒签了《{title}》，该签署任务已作废。")
}

/// The intent code (意愿认证) for signing a task.
pub fn signing_code(title: &str, code: &str) -> String {
    format!("{SIGNATURE}您正在签署《{title}》，验证码：{code}，5分钟内有效。请勿将验证码告知他人。")
}

/// The employee hears that the contract is concluded and where to
/// download it (free of charge).
pub fn contract_concluded(enterprise: &str, title: &str, link: &str) -> String {
    format!(
        "{SIGNATURE}您与{enterprise}的《{title}》已签署完成，合同已生效。您可登录豫云签免费查看和下载：{link}"
    )
}

/// The initiator hears that every party signed.
pub fn task_completed(title: &str) -> String {
    format!("{SIGNATURE}签署任务《{title}》各方已全部签署完成。")
}
