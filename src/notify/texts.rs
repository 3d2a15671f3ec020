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

pub fn order_rejected_sms(enterprise: &str) -> String {
    format!(
        "{SIGNATURE}{enterprise}的企业认证申请未通过审核，原因已发送至经办人邮箱。修改材料后可重新提交。"
    )
}

pub fn order_rejected_subject() -> &'static str {
    "豫云签：企业认证申请未通过审核"
}

pub fn order_rejected_body(enterprise: &str, reason: &str) -> String {
    format!(
        "您好：\n\n{enterprise}的企业认证申请未通过审核。\n原因：{reason}\n\n请登录豫云签上传更正后的材料，申请将重新进入审核。\n\n豫云签电子劳动合同服务平台"
    )
}

pub fn order_approved_sms(enterprise: &str) -> String {
    format!("{SIGNATURE}{enterprise}已通过企业认证，数字证书已签发。您已成为该企业的超级管理员。")
}

/// `138****0000`, for logs and texts that must not carry the full number.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "***".to_owned()
    }
}
