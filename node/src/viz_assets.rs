//! The visualizer's built files (`viz-web/dist`, made by `scripts/build-ui`), embedded so
//! that a plain `cargo build` serves the UI: a student never needs trunk or wasm-bindgen.
//!
//! `viz-web/dist/SOURCES.sha256` records the digest of the sources the build came from; the
//! test below recomputes it (as `scripts/ui-digest` does) and fails when the embedded UI is
//! older than its sources.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// One embedded file: its URL path, content type and bytes.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! dist {
    ($file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../viz-web/dist/",
            $file
        ))
    };
}

pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: dist!("index.html"),
    },
    Asset {
        path: "/etcdlab-viz.js",
        content_type: "text/javascript",
        bytes: dist!("etcdlab-viz.js"),
    },
    Asset {
        path: "/etcdlab-viz_bg.wasm",
        content_type: "application/wasm",
        bytes: dist!("etcdlab-viz_bg.wasm"),
    },
    // The simulator's Web Worker, which only demo mode loads (`etcdlab-sim_loader.js` loads
    // the other two).
    Asset {
        path: "/etcdlab-sim_loader.js",
        content_type: "text/javascript",
        bytes: dist!("etcdlab-sim_loader.js"),
    },
    Asset {
        path: "/etcdlab-sim.js",
        content_type: "text/javascript",
        bytes: dist!("etcdlab-sim.js"),
    },
    Asset {
        path: "/etcdlab-sim_bg.wasm",
        content_type: "application/wasm",
        bytes: dist!("etcdlab-sim_bg.wasm"),
    },
    Asset {
        path: "/style.css",
        content_type: "text/css",
        bytes: dist!("style.css"),
    },
];

/// Routes serving every embedded file at its path.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(
            asset.path,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, asset.content_type),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    asset.bytes,
                )
                    .into_response()
            }),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use sha2::{Digest, Sha256};

    /// The sources the UI is built from, as `scripts/ui-digest` lists them.
    fn sources(root: &Path) -> Vec<String> {
        let mut files: Vec<String> = [
            "viz-web/Cargo.toml",
            "viz-web/index.html",
            "viz-web/style.css",
            "Trunk.toml",
            "shared/src/events.rs",
            "shared/src/cluster_view.rs",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for dir in ["viz-web/src", "shared/src/events"] {
            for entry in std::fs::read_dir(root.join(dir)).expect(dir) {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if name.ends_with(".rs") {
                    files.push(format!("{dir}/{name}"));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn the_embedded_ui_is_built_from_the_current_sources() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut listing = String::new();
        for file in sources(&root) {
            let bytes = std::fs::read(root.join(&file)).unwrap();
            listing.push_str(&format!(
                "{}  {file}\n",
                hex::encode(Sha256::digest(&bytes))
            ));
        }
        let digest = hex::encode(Sha256::digest(listing.as_bytes()));
        let recorded =
            std::fs::read_to_string(root.join("viz-web/dist/SOURCES.sha256")).unwrap_or_default();
        assert_eq!(
            recorded.trim(),
            digest,
            "viz-web/dist is older than the visualizer's sources: run scripts/build-ui and commit viz-web/dist"
        );
    }

    fn asset(path: &str) -> &'static [u8] {
        super::ASSETS
            .iter()
            .find(|a| a.path == path)
            .unwrap_or_else(|| panic!("{path} is not embedded"))
            .bytes
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }

    #[test]
    fn the_page_loads_the_embedded_script_and_wasm() {
        let page = String::from_utf8_lossy(asset("/"));
        assert!(page.contains("etcdlab-viz.js") && page.contains("etcdlab-viz_bg.wasm"));
        assert!(asset("/etcdlab-viz_bg.wasm").starts_with(b"\0asm"));
        // The simulator is no part of the page: only demo mode starts its worker.
        assert!(!page.contains("etcdlab-sim"));
    }

    #[test]
    fn the_simulators_worker_is_embedded_where_the_page_looks_for_it() {
        assert!(contains(
            asset("/etcdlab-viz_bg.wasm"),
            "etcdlab-sim_loader.js"
        ));
        let loader = String::from_utf8_lossy(asset("/etcdlab-sim_loader.js"));
        assert!(loader.contains("etcdlab-sim.js") && loader.contains("etcdlab-sim_bg.wasm"));
        assert!(asset("/etcdlab-sim_bg.wasm").starts_with(b"\0asm"));
    }
}
