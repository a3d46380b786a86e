//! `state`: the runtime-spec state document of one container.

use crate::error::Result;
use crate::state::{StateDoc, StateRoot};

pub fn state(root: &StateRoot, id: &str) -> Result<StateDoc> {
    let (st, status) = super::load(root, id)?;
    Ok(st.doc(status, ""))
}
