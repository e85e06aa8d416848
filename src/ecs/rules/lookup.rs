//! The configured mapping: the tables indexed for lookup ([`Lookup`], the
//! same for every configuration), the emitters, and what the configuration
//! decides ([`Settings`]). Built once per transformer, then read-only.

use super::emitters::Emitter;
use crate::config::Config;
use crate::ecs::policy::content::{ContentClass, ContentPolicy};
use crate::ecs::policy::routing::{self, Tenant};
use crate::ecs::rules::tables::{self, Conversion, EventClass, Slot, Target};
use crate::error::{Error, Result};
use hashbrown::HashMap;

/// How one attribute key is mapped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttributeRule {
    /// A row of [`tables::RENAMES`].
    Targets(&'static [Target]),
    /// Kept under the vendor prefix with this conversion.
    Vendor(Conversion),
}

/// Everything the tables say about one attribute key, found with one lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttributeLookup {
    /// Where its value goes.
    pub(crate) rule: AttributeRule,
    /// Its content class, if it carries content (mapping.md §5).
    pub(crate) class: Option<ContentClass>,
    /// Its slot, when a rule reads it by name.
    pub(crate) slot: Option<Slot>,
    /// Whether the exporter reads it as routing ([`routing::ROUTING_ATTRIBUTES`]).
    pub(crate) routing: bool,
}

/// An attribute no table names: kept as sent under the vendor prefix.
const UNLISTED: AttributeLookup = AttributeLookup {
    rule: AttributeRule::Vendor(Conversion::Keep),
    class: None,
    slot: None,
    routing: false,
};

/// The configured mapping: the emitters, the tables indexed for lookup
/// ([`Lookup`]) and the per-configuration settings ([`Settings`]).
#[derive(Debug)]
pub(crate) struct Mapping {
    pub(crate) emitters: Vec<Emitter>,
    pub(crate) lookup: Lookup,
    pub(crate) settings: Settings,
}

/// The mapping's tables indexed for lookup: the same for every configuration.
#[derive(Debug)]
pub(crate) struct Lookup {
    events: HashMap<&'static str, EventClass>,
    attributes: HashMap<&'static str, AttributeLookup>,
}

/// What the configuration decides: the compiled content policy, and the
/// configuration itself (read where a rule uses a key, so a new key is no
/// edit here).
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) content: ContentPolicy,
    pub(crate) config: Config,
    /// The key that signs every Claude log record (`signing.key_file`).
    pub(crate) signer: Option<crate::signature::Signer>,
}

impl Mapping {
    /// Builds the mapping of a validated configuration.
    ///
    /// # Errors
    /// [`Error::ConfigInvalid`] when the content policy cannot be compiled.
    pub(crate) fn new(
        config: &Config,
        hmac_key: Option<Vec<u8>>,
        signer: Option<crate::signature::Signer>,
    ) -> Result<Mapping> {
        let content = ContentPolicy::new(ContentClass::ALL.map(|c| config.action(c)), hmac_key)
            .map_err(|e| Error::config("content", format!("secret patterns: {e}")))?;
        Ok(Mapping {
            emitters: Emitter::all(config),
            lookup: Lookup::new(),
            settings: Settings {
                content,
                config: config.clone(),
                signer,
            },
        })
    }

    /// The emitter whose `service.name` this is (mapping.md §1).
    pub(crate) fn emitter_named(&self, service_name: &str) -> Option<&Emitter> {
        (self.emitters.iter()).find(|e| e.service_names.iter().any(|s| s == service_name))
    }
}

impl Lookup {
    fn new() -> Lookup {
        let mut attributes: HashMap<&'static str, AttributeLookup> = HashMap::new();
        let mapping =
            (tables::VENDOR_TYPES.iter()).map(|&(k, conv)| (k, AttributeRule::Vendor(conv)));
        let renames = (tables::RENAMES.iter()).map(|&(k, t)| (k, AttributeRule::Targets(t)));
        for (key, rule) in mapping.chain(renames) {
            attributes.insert(
                key,
                AttributeLookup {
                    rule,
                    class: None,
                    slot: None,
                    routing: false,
                },
            );
        }
        for &(key, class) in tables::CONTENT_ATTRIBUTES {
            attributes.entry(key).or_insert(UNLISTED).class = Some(class);
        }
        for slot in Slot::ALL {
            attributes.entry(slot.key()).or_insert(UNLISTED).slot = Some(slot);
        }
        for &key in routing::ROUTING_ATTRIBUTES {
            attributes.entry(key).or_insert(UNLISTED).routing = true;
        }
        Lookup {
            events: tables::EVENT_CLASSES.iter().copied().collect(),
            attributes,
        }
    }

    /// The class of an event name (mapping.md §1).
    pub(crate) fn event_class(&self, name: &str) -> EventClass {
        self.events
            .get(name)
            .copied()
            .unwrap_or(tables::OTHER_EVENT)
    }

    /// What the tables say of an attribute key.
    pub(crate) fn attribute(&self, key: &str) -> AttributeLookup {
        self.attributes.get(key).copied().unwrap_or(UNLISTED)
    }
}

impl Settings {
    /// The tenant's namespace, when the configuration routes by tenant.
    pub(crate) fn tenant_namespace<'t>(&self, tenant: Option<&'t Tenant<'_>>) -> Option<&'t str> {
        (tenant.filter(|_| self.config.tenant.set_namespace)).and_then(|t| t.namespace.as_deref())
    }

    /// `data_stream.namespace` of a Claude item: the tenant's, else the
    /// configured one.
    pub(crate) fn namespace<'s>(&'s self, tenant: Option<&'s Tenant<'_>>) -> &'s str {
        self.tenant_namespace(tenant)
            .unwrap_or(&self.config.namespace)
    }

    /// Whether `tenant` may claim `organization.id` `claimed` (always, when
    /// `tenants` is empty: no check).
    pub(crate) fn may_claim(&self, tenant: Option<&Tenant<'_>>, claimed: &str) -> bool {
        let tenants = &self.config.tenants;
        tenants.is_empty()
            || (tenant.and_then(|t| tenants.get(t.identity)))
                .is_some_and(|orgs| orgs.iter().any(|o| o == claimed))
    }
}
