//! `mongoelector release --force KEY`: for operators, removes a lock whoever
//! holds it, and says whose holding it removed.

use mongoelector::MongoLocker;

use crate::args::{Cli, ReleaseArgs};
use crate::exit::Failure;
use crate::show::read_only;

pub fn run(cli: &Cli, a: &ReleaseArgs) -> Result<u8, Failure> {
    let db = cli.database()?;
    let lock = MongoLocker::new(&a.key, &db, read_only(&a.collection))?;
    // Read first: the release itself does not say whose holding it ended.
    let Some(c) = lock.get_current()? else {
        println!("{:?} is not held: nothing removed", a.key);
        return Ok(0);
    };
    if lock.release(true)? {
        println!(
            "released {:?}: removed the holding of {} pid {} (uuid {}), fence {}",
            a.key, c.host, c.pid, c.uuid, c.fence
        );
    } else {
        println!("{:?} was released meanwhile: nothing removed", a.key);
    }
    Ok(0)
}
