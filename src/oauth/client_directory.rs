//! Where clients live, over the storage traits: KV for fast reads everywhere, D1 as the strongly consistent copy.
//! A client registered in one location can be used at `/authorize` in any other at once:
//! when KV misses (not yet replicated, or a cached miss), the D1 copy answers.

use crate::oauth::client::Client;
use crate::store::{ClientRecords, KeyValue, StoreError};

use crate::store::keys;

pub struct ClientDirectory<'a, K: KeyValue, S: ClientRecords> {
    pub kv: &'a K,
    pub strong: &'a S,
}

impl<K: KeyValue, S: ClientRecords> ClientDirectory<'_, K, S> {
    /// Writes the strongly consistent copy: once this returns, every location can find
    /// the client (a KV miss falls back to it).
    pub async fn save(&self, client: &Client, now: u64) -> Result<(), StoreError> {
        let record = serde_json::to_string(client).map_err(|e| StoreError(e.to_string()))?;
        self.strong
            .save_client(&client.client_id, &record, now)
            .await
    }

    /// Writes the fast copy, after `save`. Only a speed-up: a client without it is read
    /// from D1, so a failure here (KV's write quota) loses nothing.
    pub async fn cache(&self, client: &Client) -> Result<(), StoreError> {
        let record = serde_json::to_string(client).map_err(|e| StoreError(e.to_string()))?;
        self.kv
            .put(&keys::client(&client.client_id), &record, None)
            .await
    }

    /// The strongly consistent copy alone: what `/token` trusts, so a client removed or
    /// given a new secret with `npm run client` stops working there at once everywhere.
    pub async fn find_strong(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        if client_id.is_empty() || client_id.len() > 200 {
            return Ok(None);
        }
        let record = self.strong.load_client(client_id).await?;
        Ok(record.and_then(|r| serde_json::from_str(&r).ok()))
    }

    pub async fn find(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        if client_id.is_empty() || client_id.len() > 200 {
            return Ok(None);
        }
        let record = match self.kv.get(&keys::client(client_id)).await? {
            Some(r) => Some(r),
            None => self.strong.load_client(client_id).await?,
        };
        Ok(record.and_then(|r| serde_json::from_str(&r).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::{validate_metadata, ClientSource};
    use crate::store::memory::{block_on, Clock, DelayedKv, MemoryClients};
    use serde_json::json;

    fn client(id: &str) -> Client {
        validate_metadata(&json!({"redirect_uris": ["https://a.example/cb"]}))
            .unwrap()
            .into_client(id.into(), None, 0, ClientSource::Registered)
    }

    #[test]
    fn a_client_registered_in_one_location_is_found_in_another_at_once() {
        let clock = Clock::default();
        let kv = DelayedKv::new(&clock, 60);
        let d1 = MemoryClients::default();
        let here = ClientDirectory {
            kv: &kv.location("ams"),
            strong: &d1,
        };
        let there = ClientDirectory {
            kv: &kv.location("sjc"),
            strong: &d1,
        };
        // A lookup before registration caches the miss in "sjc", as KV does.
        assert_eq!(block_on(there.find("c1")).unwrap(), None);
        block_on(here.save(&client("c1"), 0)).unwrap();
        block_on(here.cache(&client("c1"))).unwrap();
        assert!(block_on(kv.location("sjc").get_raw("client:c1")).is_none());
        assert_eq!(block_on(there.find("c1")).unwrap(), Some(client("c1")));
        assert_eq!(block_on(here.find("c1")).unwrap(), Some(client("c1")));
        clock.advance(61);
        assert!(block_on(kv.location("sjc").get_raw("client:c1")).is_some());
    }

    #[test]
    fn a_client_kv_refused_is_found_through_d1() {
        let clock = Clock::default();
        let kv = DelayedKv::new(&clock, 60);
        let d1 = MemoryClients::default();
        let dir = ClientDirectory {
            kv: &kv.location("a"),
            strong: &d1,
        };
        // Saved, never cached (KV's quota spent): every read still finds it.
        block_on(dir.save(&client("c1"), 0)).unwrap();
        assert_eq!(block_on(dir.find("c1")).unwrap(), Some(client("c1")));
        assert_eq!(block_on(dir.find_strong("c1")).unwrap(), Some(client("c1")));
    }

    #[test]
    fn unknown_and_absurd_ids_are_not_found() {
        let clock = Clock::default();
        let kv = DelayedKv::new(&clock, 60);
        let d1 = MemoryClients::default();
        let dir = ClientDirectory {
            kv: &kv.location("a"),
            strong: &d1,
        };
        assert_eq!(block_on(dir.find("nope")).unwrap(), None);
        assert_eq!(block_on(dir.find(&"x".repeat(500))).unwrap(), None);
    }

    #[test]
    fn the_strong_read_sees_a_removal_that_kv_has_not_carried_yet() {
        let clock = Clock::default();
        let kv = DelayedKv::new(&clock, 60);
        let d1 = MemoryClients::default();
        let dir = ClientDirectory {
            kv: &kv.location("ams"),
            strong: &d1,
        };
        block_on(dir.save(&client("c1"), 0)).unwrap();
        block_on(dir.cache(&client("c1"))).unwrap();
        assert_eq!(block_on(dir.find_strong("c1")).unwrap(), Some(client("c1")));
        d1.remove("c1");
        assert!(
            block_on(dir.find("c1")).unwrap().is_some(),
            "KV still has it"
        );
        assert_eq!(block_on(dir.find_strong("c1")).unwrap(), None);
    }

    #[test]
    fn an_operator_record_reads_back_as_preregistered() {
        // The shape `npm run client -- add` writes (scripts/client.mjs).
        let record = r#"{"client_id":"abc","secret_hash":"h","redirect_uris":["https://chatgpt.com/connector_platform_oauth_redirect"],
            "client_name":"ChatGPT","token_endpoint_auth_method":"client_secret_post",
            "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
            "client_id_issued_at":1,"source":"preregistered"}"#;
        let c: Client = serde_json::from_str(record).unwrap();
        assert_eq!(c.source, ClientSource::Preregistered);
        assert_eq!(c.vouched_by().as_deref(), Some("this server's operator"));
        assert!(!c.is_public());
    }
}
