//! WebCrypto (`crypto.subtle`) from Rust: PBKDF2 for passwords, Ed25519 for access
//! tokens, and RS256/ES256 for the ID tokens of sign-in providers. Both run as native code in the Workers runtime, which is faster than any wasm
//! implementation and keeps their code out of the upload.

use crate::oauth::ed25519::{Ed25519, PublicKey, Seed};
use crate::oauth::rsa_key::{Rs256, RsaKeys};
use std::cell::RefCell;
use worker::js_sys::{Array, ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(target, &JsValue::from_str(key))
}

fn subtle() -> Result<JsValue, JsValue> {
    get(&get(&worker::js_sys::global(), "crypto")?, "subtle")
}

async fn call(method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let subtle = subtle()?;
    let f: Function = get(&subtle, method)?.dyn_into()?;
    let array: Array = args.iter().collect();
    let promise: Promise = f.apply(&subtle, &array)?.dyn_into()?;
    JsFuture::from(promise).await
}

fn object(pairs: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v)?;
    }
    Ok(o.into())
}

fn usages(usage: &str) -> JsValue {
    [JsValue::from_str(usage)].iter().collect::<Array>().into()
}

fn bytes(buffer: JsValue) -> Result<Vec<u8>, JsValue> {
    let buffer: ArrayBuffer = buffer.dyn_into()?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// PBKDF2-HMAC-SHA256 of `password`, 256 bits.
pub async fn pbkdf2(password: &str, salt: &[u8], iterations: u32) -> Result<Vec<u8>, JsValue> {
    let key = call(
        "importKey",
        &[
            "raw".into(),
            Uint8Array::from(password.as_bytes()).into(),
            object(&[("name", "PBKDF2".into())])?,
            false.into(),
            usages("deriveBits"),
        ],
    )
    .await?;
    let params = object(&[
        ("name", "PBKDF2".into()),
        ("hash", "SHA-256".into()),
        ("salt", Uint8Array::from(salt).into()),
        ("iterations", (iterations as f64).into()),
    ])?;
    bytes(call("deriveBits", &[params, key, 256.0.into()]).await?)
}

/// The fixed PKCS #8 prefix of an Ed25519 private key (RFC 8410 §7): WebCrypto imports a
/// bare seed only in this wrapping.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

thread_local! {
    // Imported keys, per isolate: importing costs more than a signature. At most the
    // current and previous keys are ever here.
    static SIGNING: RefCell<Vec<(Seed, JsValue)>> = const { RefCell::new(Vec::new()) };
    static VERIFYING: RefCell<Vec<(PublicKey, JsValue)>> = const { RefCell::new(Vec::new()) };
    // The RSA key that signs ID tokens, by its kid (the current one only).
    static RSA_SIGNING: RefCell<Vec<(String, JsValue)>> = const { RefCell::new(Vec::new()) };
}

fn remembered<K: PartialEq>(
    cache: &'static std::thread::LocalKey<RefCell<Vec<(K, JsValue)>>>,
    key: &K,
) -> Option<JsValue> {
    cache.with(|c| {
        c.borrow()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    })
}

fn remember<K>(
    cache: &'static std::thread::LocalKey<RefCell<Vec<(K, JsValue)>>>,
    key: K,
    v: &JsValue,
) {
    cache.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 4 {
            c.remove(0);
        }
        c.push((key, v.clone()));
    });
}

fn algorithm() -> Result<JsValue, JsValue> {
    object(&[("name", "Ed25519".into())])
}

async fn private_key(seed: &Seed, extractable: bool) -> Result<JsValue, JsValue> {
    let mut pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
    pkcs8.extend_from_slice(seed);
    let key = call(
        "importKey",
        &[
            "pkcs8".into(),
            Uint8Array::from(&pkcs8[..]).into(),
            algorithm()?,
            extractable.into(),
            usages("sign"),
        ],
    )
    .await;
    pkcs8.fill(0);
    key
}

async fn signing_key(seed: &Seed) -> Result<JsValue, JsValue> {
    if let Some(key) = remembered(&SIGNING, seed) {
        return Ok(key);
    }
    let key = private_key(seed, false).await?;
    remember(&SIGNING, *seed, &key);
    Ok(key)
}

async fn verifying_key(public: &PublicKey) -> Result<JsValue, JsValue> {
    if let Some(key) = remembered(&VERIFYING, public) {
        return Ok(key);
    }
    let key = call(
        "importKey",
        &[
            "raw".into(),
            Uint8Array::from(&public[..]).into(),
            algorithm()?,
            false.into(),
            usages("verify"),
        ],
    )
    .await?;
    remember(&VERIFYING, *public, &key);
    Ok(key)
}

/// WebCrypto's Ed25519.
pub struct WebCrypto;

impl Ed25519 for WebCrypto {
    async fn public_key(&self, seed: &Seed) -> Result<PublicKey, String> {
        // WebCrypto derives the public key only on export: import the seed once as an
        // extractable key (never stored), export it as a JWK and keep `x`.
        let derive = async {
            let key = private_key(seed, true).await?;
            let jwk = call("exportKey", &["jwk".into(), key]).await?;
            get(&jwk, "x")?
                .as_string()
                .ok_or_else(|| JsValue::from_str("no x in the exported JWK"))
        };
        let x = derive.await.map_err(|e| format!("{e:?}"))?;
        crate::encoding::b64url_decode(&x)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "the exported public key is not 32 bytes".to_string())
    }

    async fn sign(&self, seed: &Seed, message: &[u8]) -> Result<Vec<u8>, String> {
        let sign = async {
            let key = signing_key(seed).await?;
            bytes(
                call(
                    "sign",
                    &[algorithm()?, key, Uint8Array::from(message).into()],
                )
                .await?,
            )
        };
        sign.await
            .map_err(|e| format!("Ed25519 signing failed: {e:?}"))
    }

    async fn verify(&self, public: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
        // WebCrypto throws on a signature of the wrong length; that is simply invalid.
        if signature.len() != 64 {
            return false;
        }
        let verify = async {
            let key = verifying_key(public).await?;
            call(
                "verify",
                &[
                    algorithm()?,
                    key,
                    Uint8Array::from(signature).into(),
                    Uint8Array::from(message).into(),
                ],
            )
            .await
        };
        matches!(verify.await, Ok(v) if v.as_bool() == Some(true))
    }
}

/// Whether `signature` over `message` verifies with `jwk` (a key of a provider's JWKS) as
/// `alg`. Only the key's own members are imported: its `alg` and `use` were already
/// checked by `id_token::select_key`, and WebCrypto refuses some spellings of them.
pub async fn verify_jwk(
    alg: crate::oauth::jws::Alg,
    jwk: &serde_json::Value,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use crate::oauth::jws::Alg;
    let members: &[&str] = match alg {
        Alg::Rs256 => &["kty", "n", "e"],
        Alg::Es256 => &["kty", "crv", "x", "y"],
        Alg::EdDsa => &["kty", "crv", "x"],
    };
    let verify = async {
        let mut pairs = Vec::new();
        for m in members {
            let v = jwk
                .get(*m)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| JsValue::from_str("a key member is missing"))?;
            pairs.push((*m, JsValue::from_str(v)));
        }
        let key_data = object(&pairs)?;
        let (import, params) = match alg {
            Alg::Rs256 => (
                object(&[
                    ("name", "RSASSA-PKCS1-v1_5".into()),
                    ("hash", "SHA-256".into()),
                ])?,
                object(&[("name", "RSASSA-PKCS1-v1_5".into())])?,
            ),
            Alg::Es256 => (
                object(&[("name", "ECDSA".into()), ("namedCurve", "P-256".into())])?,
                object(&[("name", "ECDSA".into()), ("hash", "SHA-256".into())])?,
            ),
            Alg::EdDsa => (algorithm()?, algorithm()?),
        };
        let key = call(
            "importKey",
            &[
                "jwk".into(),
                key_data,
                import,
                false.into(),
                usages("verify"),
            ],
        )
        .await?;
        call(
            "verify",
            &[
                params,
                key,
                Uint8Array::from(signature).into(),
                Uint8Array::from(message).into(),
            ],
        )
        .await
    };
    // An ES256 signature is r || s, 64 bytes (RFC 7518 §3.4), which is WebCrypto's form;
    // an Ed25519 one is 64 bytes too (RFC 8032).
    if matches!(alg, Alg::Es256 | Alg::EdDsa) && signature.len() != 64 {
        return false;
    }
    matches!(verify.await, Ok(v) if v.as_bool() == Some(true))
}

impl crate::oauth::jws::VerifyJwk for WebCrypto {
    async fn verify_jwk(
        &self,
        alg: crate::oauth::jws::Alg,
        jwk: &serde_json::Value,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        verify_jwk(alg, jwk, message, signature).await
    }
}

fn rs256() -> Result<JsValue, JsValue> {
    object(&[
        ("name", "RSASSA-PKCS1-v1_5".into()),
        ("hash", "SHA-256".into()),
    ])
}

async fn rsa_signing_key(key: &RsaKeys) -> Result<JsValue, JsValue> {
    if let Some(k) = remembered(&RSA_SIGNING, &key.kid) {
        return Ok(k);
    }
    let mut pairs = Vec::new();
    if let Some(members) = key.private_jwk.as_object() {
        for (m, v) in members {
            if let Some(v) = v.as_str() {
                pairs.push((m.as_str(), JsValue::from_str(v)));
            }
        }
    }
    let imported = call(
        "importKey",
        &[
            "jwk".into(),
            object(&pairs)?,
            rs256()?,
            false.into(),
            usages("sign"),
        ],
    )
    .await?;
    remember(&RSA_SIGNING, key.kid.clone(), &imported);
    Ok(imported)
}

impl Rs256 for WebCrypto {
    async fn sign_rs256(&self, key: &RsaKeys, message: &[u8]) -> Result<Vec<u8>, String> {
        let sign = async {
            let k = rsa_signing_key(key).await?;
            let params = object(&[("name", "RSASSA-PKCS1-v1_5".into())])?;
            let signed = call("sign", &[params, k, Uint8Array::from(message).into()]).await?;
            bytes(signed)
        };
        sign.await
            .map_err(|e| format!("RS256 signing: {}", e.as_string().unwrap_or_default()))
    }

    async fn sha512(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        let digest = call("digest", &["SHA-512".into(), Uint8Array::from(data).into()]).await;
        digest
            .and_then(bytes)
            .map_err(|e| format!("SHA-512: {}", e.as_string().unwrap_or_default()))
    }
}
