//! `list`: every container under the root with its live status and owner.

use crate::error::Result;
use crate::state::{owner_name, StateDoc, StateRoot};

pub fn list(root: &StateRoot) -> Result<Vec<StateDoc>> {
    let mut out = Vec::new();
    for id in root.ids()? {
        // A container deleted while we list is simply not listed.
        if let Ok((st, status)) = super::load(root, &id) {
            out.push(st.doc(status, &owner_name(&root.dir(&id))));
        }
    }
    Ok(out)
}
