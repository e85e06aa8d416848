//! The vocabulary of the content and identity policy (docs/mapping.md,
//! "Content classes"), shared by the configuration ([`crate::config`]) and
//! the mapping ([`crate::ecs`]) so neither imports the other's types.
//!
//! A content class is declared once, in the `content_classes!` list below:
//! its configuration key, its default action, its slot in the policy's
//! action array and its name in `<product>.events.redacted` all come from
//! that line. Which attributes belong to it is the table
//! `ecs::tables::CONTENT_ATTRIBUTES`.

use serde::{Deserialize, Serialize};

/// What to do with the values of one content class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentAction {
    /// Keep the value as sent.
    Keep,
    /// Mask credentials (`ecs::SECRET_PATTERNS`) and keep the rest readable.
    #[default]
    RedactSecrets,
    /// Replace the value by its keyed HMAC-SHA256 (lowercase hex), so equal
    /// values stay joinable without being readable. Needs `content.hmac_key`.
    Hash,
    /// Remove the value (length fields such as `prompt_length` stay).
    Drop,
}

/// Declares [`ContentClass`] from one list: `Variant = "name", default
/// Action, in_content bool;` where `name` is the class's key under
/// `content` (when `in_content`) and in `<product>.events.redacted`.
macro_rules! content_classes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal,
        default $default:ident, in_content $in_content:literal; )*) => {
        /// The content classes: groups of attributes that carry what a user
        /// typed, what the model or a tool returned, or who the user is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ContentClass {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ContentClass {
            /// Every class, in declaration order (the index of an action array).
            pub const ALL: [ContentClass; [$(stringify!($variant)),*].len()] =
                [$(ContentClass::$variant),*];

            /// The class name, as configured and as written in
            /// `<product>.events.redacted`.
            pub fn name(self) -> &'static str {
                match self {
                    $(ContentClass::$variant => $name,)*
                }
            }

            /// The action when the configuration names none.
            pub fn default_action(self) -> ContentAction {
                match self {
                    $(ContentClass::$variant => ContentAction::$default,)*
                }
            }

            /// Whether the class is configured under `content` (the
            /// identity policy has its own top-level key, `identity`).
            pub fn in_content(self) -> bool {
                match self {
                    $(ContentClass::$variant => $in_content,)*
                }
            }
        }
    };
}

content_classes! {
    /// `prompt` / `prompt_text` (and `user_prompt` on spans).
    Prompts = "prompts", default RedactSecrets, in_content true;
    /// `response` of `assistant_response`.
    Responses = "responses", default RedactSecrets, in_content true;
    /// `tool_parameters`, `tool_input` and the fields derived from them.
    ToolDetails = "tool_details", default RedactSecrets, in_content true;
    /// `body` of `api_request_body` / `api_response_body`, the system prompt
    /// and the tool definitions (parts of an API request body).
    ApiBodies = "api_bodies", default RedactSecrets, in_content true;
    /// A tool's output (`output` of the `tool.output` span event).
    ToolOutput = "tool_output", default RedactSecrets, in_content true;
    /// The user's identity (`user.email`, `user.account_uuid`,
    /// `user.account_id`), under the top-level `identity` setting.
    Identity = "identity", default Keep, in_content false;
}

impl ContentClass {
    /// The class configured under `content` as `name`.
    pub fn from_name(name: &str) -> Option<ContentClass> {
        ContentClass::ALL
            .into_iter()
            .find(|c| c.in_content() && c.name() == name)
    }

    /// Its slot in an action array.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One action per content class, indexed by [`ContentClass::index`].
pub(crate) type Actions = [ContentAction; ContentClass::ALL.len()];

/// What happens to the user's identity (`user.email`, `user.account_uuid`,
/// `user.account_id`) in every signal; `related.user` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityAction {
    /// Stored as sent. The default.
    #[default]
    Keep,
    /// Replaced by its HMAC-SHA256 under `content.hmac_key` (lowercase hex):
    /// equal users stay joinable, e.g. for cost per person.
    Hash,
    /// Removed.
    Drop,
}

impl IdentityAction {
    /// The same action as a content action.
    pub(crate) fn as_content(self) -> ContentAction {
        match self {
            IdentityAction::Keep => ContentAction::Keep,
            IdentityAction::Hash => ContentAction::Hash,
            IdentityAction::Drop => ContentAction::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_a_class_with_its_own_setting() {
        assert_eq!(
            ContentClass::Identity.default_action(),
            IdentityAction::default().as_content()
        );
        assert_eq!(ContentClass::from_name("identity"), None);
        assert_eq!(
            ContentClass::from_name("tool_output"),
            Some(ContentClass::ToolOutput)
        );
        for (i, c) in ContentClass::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
