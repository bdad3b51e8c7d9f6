//! Where a model is saved to or loaded from, written as web developers know it from
//! TensorFlow.js: `indexeddb://name` (the browser's storage), `downloads://name` (a file the
//! browser downloads), or else the URL of a checkpoint file.

use thiserror::Error;

/// The extension given to a downloaded checkpoint whose name has none.
pub const FILE_EXTENSION: &str = "ckpt";

/// A place for a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Saved in the browser under a name.
    IndexedDb(String),
    /// Offered as a file download with this file name.
    Download(String),
    /// A checkpoint file on the web (loading only).
    Url(String),
}

/// Why a string is not a place for a model.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LocationError {
    #[error("{0:?} names no model: give a name after the scheme, e.g. \"indexeddb://my-model\"")]
    NoName(String),
    #[error("a model can be saved to \"indexeddb://name\" or \"downloads://name\", not {0:?}")]
    NotASaveTarget(String),
    #[error("a model cannot be loaded from {0:?}: use \"indexeddb://name\" or a URL")]
    NotASource(String),
}

const INDEXEDDB: &str = "indexeddb://";
const DOWNLOADS: &str = "downloads://";

impl Location {
    /// Where `save(target)` puts the model.
    pub fn save_target(target: &str) -> Result<Self, LocationError> {
        match Self::parse(target)? {
            Location::Url(_) => Err(LocationError::NotASaveTarget(target.to_owned())),
            location => Ok(location),
        }
    }

    /// Where `loadCheckpoint(source)` reads the model from.
    pub fn source(source: &str) -> Result<Self, LocationError> {
        match Self::parse(source)? {
            Location::Download(_) => Err(LocationError::NotASource(source.to_owned())),
            location => Ok(location),
        }
    }

    fn parse(text: &str) -> Result<Self, LocationError> {
        let named = |name: &str, make: fn(String) -> Location| {
            if name.trim().is_empty() {
                Err(LocationError::NoName(text.to_owned()))
            } else {
                Ok(make(name.to_owned()))
            }
        };
        if let Some(name) = text.strip_prefix(INDEXEDDB) {
            named(name, Location::IndexedDb)
        } else if let Some(name) = text.strip_prefix(DOWNLOADS) {
            named(name, |name| {
                if name.contains('.') {
                    Location::Download(name)
                } else {
                    Location::Download(format!("{name}.{FILE_EXTENSION}"))
                }
            })
        } else if text.trim().is_empty() {
            Err(LocationError::NotASource(text.to_owned()))
        } else {
            Ok(Location::Url(text.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_name_their_places() {
        assert_eq!(
            Location::save_target("indexeddb://run 1"),
            Ok(Location::IndexedDb("run 1".into()))
        );
        assert_eq!(
            Location::save_target("downloads://lenet5"),
            Ok(Location::Download("lenet5.ckpt".into()))
        );
        assert_eq!(
            Location::save_target("downloads://model.bin"),
            Ok(Location::Download("model.bin".into()))
        );
        assert_eq!(
            Location::source("/models/lenet5.ckpt"),
            Ok(Location::Url("/models/lenet5.ckpt".into()))
        );
        assert_eq!(
            Location::source("indexeddb://x"),
            Ok(Location::IndexedDb("x".into()))
        );
    }

    #[test]
    fn places_that_do_not_fit_are_refused() {
        assert!(matches!(
            Location::save_target("https://example.com/m.ckpt"),
            Err(LocationError::NotASaveTarget(_))
        ));
        assert!(matches!(
            Location::source("downloads://m"),
            Err(LocationError::NotASource(_))
        ));
        assert!(matches!(
            Location::save_target("indexeddb:// "),
            Err(LocationError::NoName(_))
        ));
        assert!(matches!(
            Location::source(""),
            Err(LocationError::NotASource(_))
        ));
    }
}
