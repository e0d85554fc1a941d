//! Password verification with WebCrypto's PBKDF2-SHA256 (native code, so 100,000
//! iterations fit in a request's CPU budget; Cloudflare refuses more).

use crate::encoding::{b64url_decode, constant_time_eq};
use worker::js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

/// A hash of a random password with the same cost, checked when the account does not
/// exist, so that "no such user" and "wrong password" take the same time.
pub const DUMMY_SALT: &str = "AAAAAAAAAAAAAAAAAAAAAA";
pub const DUMMY_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
}

async fn call(target: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(target, method)?.dyn_into()?;
    let array: Array = args.iter().collect();
    let promise: Promise = f.apply(target, &array)?.dyn_into()?;
    JsFuture::from(promise).await
}

fn object(pairs: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v)?;
    }
    Ok(o.into())
}

async fn pbkdf2(password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>, JsValue> {
    let subtle = get(&get(&worker::js_sys::global(), "crypto")?, "subtle")?;
    let raw = Uint8Array::from(password.as_bytes());
    let usages: Array = [JsValue::from_str("deriveBits")].iter().collect();
    let key = call(
        &subtle,
        "importKey",
        &[
            "raw".into(),
            raw.into(),
            object(&[("name", "PBKDF2".into())])?,
            false.into(),
            usages.into(),
        ],
    )
    .await?;
    let params = object(&[
        ("name", "PBKDF2".into()),
        ("hash", "SHA-256".into()),
        ("salt", Uint8Array::from(salt).into()),
        ("iterations", (iterations as f64).into()),
    ])?;
    let bits: ArrayBuffer = call(&subtle, "deriveBits", &[params, key, 256.0.into()])
        .await?
        .dyn_into()?;
    Ok(Uint8Array::new(&bits).to_vec())
}

/// Whether `password` matches the stored hash. A malformed stored record never matches.
pub async fn verify(password: &str, salt_b64: &str, hash_b64: &str, iterations: u32) -> bool {
    let (Some(salt), Some(expected)) = (b64url_decode(salt_b64), b64url_decode(hash_b64)) else {
        return false;
    };
    // Cloudflare rejects more than 100,000 iterations; fewer would be a weak hash.
    if iterations != 100_000 {
        return false;
    }
    match pbkdf2(password, &salt, iterations).await {
        Ok(derived) => constant_time_eq(&derived, &expected),
        Err(e) => {
            worker::console_error!("PBKDF2 failed: {:?}", e);
            false
        }
    }
}
