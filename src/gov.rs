//! `kaimeng gov list | propose | vote`: consortium governance from the command line, over the
//! node's `kaimeng_*` JSON-RPC namespace.
//!
//! Everything that can be checked without the node is checked first (the action, the member
//! file, the keystore and its password), so bad input fails fast with a message naming it.
//! Then the command reads the signing domain and the signer's nonce from the node, signs with
//! the member's admin key (a keystore, or a built-in dev key with `--dev-member N`), submits,
//! and waits a little for the transaction to show in the finalized state.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use jsonrpsee::core::client::Error as ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use kaimeng_crypto::{PublicKey, SecretKey};
use kaimeng_genesis::{CryptoSuite as GenesisSuite, DevKeyRole, FeeSplit, Member};
use kaimeng_l1::governance::{
    Action, EpochView, GovernanceTx, MembersView, ProposalStatus, ProposalView, ProposalsView,
};
use kaimeng_l1::membership::Parameter;
use kaimeng_rpc::api::kaimeng::{GovernanceDomainView, KaimengApiClient};

use crate::cli::read_password;
use crate::consensus_suite as crypto_suite;

#[derive(Subcommand, Debug)]
pub enum GovCommand {
    /// Show the members, the current epoch and the open proposals (or all with --all).
    List(ListArgs),
    /// Propose to add a member, remove one, or change a parameter; signed with the admin key.
    Propose(ProposeArgs),
    /// Approve or reject an open proposal; signed with the admin key.
    Vote(VoteArgs),
}

#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// JSON-RPC URL of a node serving the kaimeng_* namespace.
    #[arg(long, env = "KAIMENG_RPC", default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
}

#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// List every proposal, not only the open ones.
    #[arg(long)]
    pub all: bool,
    /// Print the raw kaimeng_members, kaimeng_epoch and kaimeng_proposals answers as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Who signs, and with which key.
#[derive(Args, Debug, Clone)]
pub struct SignerArgs {
    /// The member organisation that signs (default with --dev-member N: dev-member-N).
    #[arg(long, required_unless_present = "dev_member")]
    pub org: Option<String>,
    /// Keystore holding the organisation's admin key (see `kaimeng keygen`).
    #[arg(
        long,
        required_unless_present = "dev_member",
        conflicts_with = "dev_member"
    )]
    pub keystore: Option<PathBuf>,
    /// File whose first line is the keystore password (or set KAIMENG_PASSWORD).
    #[arg(long, requires = "keystore")]
    pub password_file: Option<PathBuf>,
    /// Sign with the built-in admin key of dev member N (dev networks only, like anvil's
    /// accounts).
    #[arg(long)]
    pub dev_member: Option<u32>,
    /// Suite of the dev key (default: the node's); must match the node.
    #[arg(long, requires = "dev_member")]
    pub suite: Option<String>,
    /// Seconds to wait for the transaction to appear in the finalized state (0: do not wait).
    #[arg(long, default_value_t = 10)]
    pub wait: u64,
}

#[derive(Args, Debug, Clone)]
pub struct ProposeArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(subcommand)]
    pub action: ProposalAction,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ProposalAction {
    /// Admit a member described by a JSON file shaped like a genesis `members` entry.
    AddMember {
        #[arg(long)]
        member_file: PathBuf,
    },
    /// Remove the member with this organisation name.
    RemoveMember { organisation: String },
    /// Change a parameter: min-base-fee (wei), block-gas-limit, epoch-length, fee-split
    /// (equal | by-weight | fixed:ORG=BPS,ORG=BPS,...), committee-size,
    /// proposal-lifetime-epochs.
    SetParam { name: String, value: String },
}

#[derive(Args, Debug, Clone)]
pub struct VoteArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// The proposal id.
    #[arg(long)]
    pub proposal: u64,
    /// Vote for the proposal.
    #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
    pub approve: bool,
    /// Vote against the proposal.
    #[arg(long)]
    pub reject: bool,
}

/// Runs one `kaimeng gov` command.
pub fn run(command: GovCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match command {
        GovCommand::List(args) => runtime.block_on(list(args)),
        GovCommand::Propose(args) => {
            let action = proposal_action(&args.action)?;
            let key = KeySource::open(&args.signer)?;
            runtime.block_on(propose(&args.node, &args.signer, key, action))
        }
        GovCommand::Vote(args) => {
            let key = KeySource::open(&args.signer)?;
            runtime.block_on(vote(&args, key))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (pure)
// ---------------------------------------------------------------------------------------------

/// The parameter names `set-param` accepts (`_` may stand for `-`).
pub const PARAMETER_NAMES: [&str; 6] = [
    "min-base-fee",
    "block-gas-limit",
    "epoch-length",
    "fee-split",
    "committee-size",
    "proposal-lifetime-epochs",
];

/// Parses `set-param NAME VALUE`.
pub fn parse_parameter(name: &str, value: &str) -> anyhow::Result<Parameter> {
    let canonical = name.trim().to_ascii_lowercase().replace('_', "-");
    let value = value.trim();
    let parameter = match canonical.as_str() {
        "min-base-fee" => Parameter::MinBaseFee(number(&canonical, value)?),
        "block-gas-limit" => Parameter::BlockGasLimit(number(&canonical, value)?),
        "epoch-length" => Parameter::EpochLength(number(&canonical, value)?),
        "fee-split" => Parameter::FeeSplit(parse_fee_split(value)?),
        "committee-size" => Parameter::CommitteeSize(number(&canonical, value)?),
        "proposal-lifetime-epochs" => Parameter::ProposalLifetimeEpochs(number(&canonical, value)?),
        _ => bail!(
            "unknown parameter \"{name}\"; expected one of {}",
            PARAMETER_NAMES.join(", ")
        ),
    };
    Ok(parameter)
}

fn number<T>(name: &str, value: &str) -> anyhow::Result<T>
where
    T: std::str::FromStr + num_bounds::Bounded,
{
    value.replace('_', "").parse::<T>().map_err(|_| {
        anyhow!(
            "{name}: \"{value}\" is not a whole number from {} to {}",
            T::MIN_TEXT,
            T::MAX_TEXT
        )
    })
}

/// The ranges named in number errors.
mod num_bounds {
    pub trait Bounded {
        const MIN_TEXT: &'static str;
        const MAX_TEXT: &'static str;
    }
    impl Bounded for u32 {
        const MIN_TEXT: &'static str = "0";
        const MAX_TEXT: &'static str = "4294967295";
    }
    impl Bounded for u64 {
        const MIN_TEXT: &'static str = "0";
        const MAX_TEXT: &'static str = "18446744073709551615";
    }
    impl Bounded for u128 {
        const MIN_TEXT: &'static str = "0";
        const MAX_TEXT: &'static str = "340282366920938463463374607431768211455";
    }
}

/// `equal`, `by-weight`, `fixed:ORG=BPS,ORG=BPS` or the JSON form (`{"fixed": {...}}`).
pub fn parse_fee_split(value: &str) -> anyhow::Result<FeeSplit> {
    if value.starts_with('{') || value.starts_with('"') {
        return serde_json::from_str(value)
            .map_err(|e| anyhow!("fee-split: not a fee split in JSON: {e}"));
    }
    match value {
        "equal" => return Ok(FeeSplit::Equal),
        "by-weight" => return Ok(FeeSplit::ByWeight),
        _ => {}
    }
    let Some(entries) = value.strip_prefix("fixed:") else {
        bail!(
            "fee-split: \"{value}\" is not equal, by-weight, or fixed:ORG=BPS,ORG=BPS,... \
             (basis points summing to 10000)"
        );
    };
    let mut points = BTreeMap::new();
    for entry in entries.split(',').filter(|e| !e.trim().is_empty()) {
        let (organisation, bps) = entry
            .rsplit_once('=')
            .ok_or_else(|| anyhow!("fee-split: \"{entry}\" is not ORG=BASIS_POINTS"))?;
        let bps: u32 = number("fee-split basis points", bps.trim())?;
        if points
            .insert(organisation.trim().to_string(), bps)
            .is_some()
        {
            bail!("fee-split: \"{}\" is listed twice", organisation.trim());
        }
    }
    Ok(FeeSplit::Fixed(points))
}

/// Reads a member file: one genesis-style member entry.
pub fn read_member_file(path: &Path) -> anyhow::Result<Member> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read member file {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "member file {} is not a member entry (organisation, admin_key, consensus_key, \
             vrf_key, peer_id, fee_recipient, weight)",
            path.display()
        )
    })
}

fn proposal_action(action: &ProposalAction) -> anyhow::Result<Action> {
    Ok(match action {
        ProposalAction::AddMember { member_file } => {
            Action::AddMember(read_member_file(member_file)?)
        }
        ProposalAction::RemoveMember { organisation } => Action::RemoveMember(organisation.clone()),
        ProposalAction::SetParam { name, value } => {
            Action::SetParameter(parse_parameter(name, value)?)
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// The admin key, loaded before the node is contacted where possible.
enum KeySource {
    Keystore(SecretKey),
    Dev {
        index: u32,
        suite: Option<GenesisSuite>,
    },
}

impl KeySource {
    fn open(args: &SignerArgs) -> anyhow::Result<KeySource> {
        if let Some(index) = args.dev_member {
            let suite = args
                .suite
                .as_deref()
                .map(|text| {
                    text.parse::<GenesisSuite>()
                        .map_err(|e| anyhow!("--suite: {e}"))
                })
                .transpose()?;
            return Ok(KeySource::Dev { index, suite });
        }
        let path = args
            .keystore
            .as_ref()
            .ok_or_else(|| anyhow!("pass --keystore FILE or --dev-member N"))?;
        if !path.exists() {
            bail!("keystore file {} does not exist", path.display());
        }
        let password = read_password(args.password_file.as_deref())?;
        let key = kaimeng_crypto::keystore::load_keystore(path, &password)
            .with_context(|| format!("cannot open keystore {}", path.display()))?;
        Ok(KeySource::Keystore(key))
    }

    /// The key, checked to be of the chain's suite.
    fn key(self, chain_suite: GenesisSuite) -> anyhow::Result<SecretKey> {
        let crypto_suite = crypto_suite(chain_suite);
        match self {
            KeySource::Keystore(key) => {
                if key.suite() != crypto_suite {
                    bail!(
                        "the keystore holds a {} key, but the chain's suite is {chain_suite}",
                        key.suite()
                    );
                }
                Ok(key)
            }
            KeySource::Dev { index, suite } => {
                if let Some(suite) = suite.filter(|s| *s != chain_suite) {
                    bail!("--suite {suite} does not match the node's suite {chain_suite}");
                }
                let secret =
                    kaimeng_genesis::dev_member_secret(index, DevKeyRole::Admin, chain_suite);
                SecretKey::from_bytes(crypto_suite, secret.as_slice())
                    .map_err(|e| anyhow!("dev admin key of member {index}: {e}"))
            }
        }
    }
}

fn organisation(args: &SignerArgs) -> anyhow::Result<String> {
    match (&args.org, args.dev_member) {
        (Some(org), _) => Ok(org.clone()),
        (None, Some(index)) => Ok(format!("dev-member-{index}")),
        (None, None) => bail!("pass --org ORGANISATION"),
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to the node
// ---------------------------------------------------------------------------------------------

struct Node {
    url: String,
    client: HttpClient,
}

impl Node {
    fn connect(args: &NodeArgs) -> anyhow::Result<Node> {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(&args.rpc)
            .map_err(|e| anyhow!("--rpc {}: {e}", args.rpc))?;
        Ok(Node {
            url: args.rpc.clone(),
            client,
        })
    }

    /// Names the node and the method in transport errors; passes the node's own refusals on.
    fn explain(&self, method: &str, error: ClientError) -> anyhow::Error {
        match error {
            ClientError::Call(object) => anyhow!("the node refused {method}: {}", object.message()),
            other => anyhow!("cannot get {method} from the node at {}: {other}", self.url),
        }
    }

    async fn domain(&self) -> anyhow::Result<GovernanceDomainView> {
        let method = "kaimeng_governanceDomain";
        self.client
            .governance_domain()
            .await
            .map_err(|e| self.explain(method, e))
    }

    async fn members(&self) -> anyhow::Result<MembersView> {
        let method = "kaimeng_members";
        self.client
            .members()
            .await
            .map_err(|e| self.explain(method, e))
    }

    async fn proposals(&self, status: Option<&str>) -> anyhow::Result<ProposalsView> {
        let method = "kaimeng_proposals";
        self.client
            .proposals(status.map(str::to_string))
            .await
            .map_err(|e| self.explain(method, e))
    }

    async fn proposal(&self, id: u64) -> anyhow::Result<Option<ProposalView>> {
        let method = "kaimeng_proposal";
        self.client
            .proposal(id)
            .await
            .map_err(|e| self.explain(method, e))
    }
}

/// What `propose` and `vote` share: the checked key, the signer's name, domain and nonce.
struct Signer {
    organisation: String,
    key: SecretKey,
    domain: GovernanceDomainView,
    nonce: u64,
}

async fn signer(node: &Node, args: &SignerArgs, key: KeySource) -> anyhow::Result<Signer> {
    let domain = node.domain().await?;
    let key = key.key(domain.crypto_suite)?;
    let organisation = organisation(args)?;
    let members = node.members().await?;
    let Some(member) = members
        .members
        .iter()
        .find(|m| m.organisation == organisation)
    else {
        let names: Vec<_> = members
            .members
            .iter()
            .map(|m| m.organisation.as_str())
            .collect();
        bail!(
            "\"{organisation}\" is not a current member (members: {})",
            names.join(", ")
        );
    };
    let admin = PublicKey::from_bytes(crypto_suite(domain.crypto_suite), &member.admin_key)
        .map_err(|e| anyhow!("the node's admin key of \"{organisation}\" is unreadable: {e}"))?;
    if admin.to_bytes() != key.public_key().to_bytes() {
        bail!(
            "the key 0x{} is not the admin key of \"{organisation}\" (0x{})",
            hex::encode(key.public_key().to_bytes()),
            hex::encode(admin.to_bytes())
        );
    }
    let method = "kaimeng_governanceNonce";
    let nonce = node
        .client
        .governance_nonce(organisation.clone())
        .await
        .map_err(|e| node.explain(method, e))?;
    Ok(Signer {
        organisation,
        key,
        domain,
        nonce,
    })
}

async fn submit(node: &Node, tx: GovernanceTx, signer: &Signer) -> anyhow::Result<()> {
    let signed = tx.sign(&signer.domain.domain(), &signer.key);
    let method = "kaimeng_sendGovernanceTransaction";
    let id = node
        .client
        .send_governance_transaction(signed.encode().into())
        .await
        .map_err(|e| node.explain(method, e))?;
    println!("submitted governance transaction {id}");
    Ok(())
}

/// Polls `found` every 200 ms until it returns `Some` or `wait` seconds pass.
async fn wait_for<T, F, Fut>(wait: u64, mut found: F) -> anyhow::Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs(wait);
    loop {
        if let Some(value) = found().await? {
            return Ok(Some(value));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn propose(
    node_args: &NodeArgs,
    args: &SignerArgs,
    key: KeySource,
    action: Action,
) -> anyhow::Result<()> {
    let node = Node::connect(node_args)?;
    let signer = signer(&node, args, key).await?;
    let known = node.proposals(None).await?;
    let last_id = known.proposals.iter().map(|p| p.proposal.id).max();
    let tx = GovernanceTx::Propose {
        proposer: signer.organisation.clone(),
        action: action.clone(),
        nonce: signer.nonce,
    };
    submit(&node, tx, &signer).await?;
    let (node, signer, action) = (&node, &signer, &action);
    let made = wait_for(args.wait, || async move {
        let all = node.proposals(None).await?;
        Ok(all.proposals.into_iter().find(|p| {
            Some(p.proposal.id) > last_id
                && p.proposal.proposer == signer.organisation
                && &p.proposal.action == action
        }))
    })
    .await?;
    match made {
        Some(view) => println!("proposal {}: {}", view.proposal.id, summary(&view)),
        None => {
            println!("not yet in a finalized beacon block; `kaimeng gov list` shows it once it is")
        }
    }
    Ok(())
}

async fn vote(args: &VoteArgs, key: KeySource) -> anyhow::Result<()> {
    let node = Node::connect(&args.node)?;
    let signer = signer(&node, &args.signer, key).await?;
    let tx = GovernanceTx::Vote {
        voter: signer.organisation.clone(),
        proposal_id: args.proposal,
        approve: args.approve,
        nonce: signer.nonce,
    };
    submit(&node, tx, &signer).await?;
    let (node, signer) = (&node, &signer);
    let counted = wait_for(args.signer.wait, || async move {
        let view = node.proposal(args.proposal).await?;
        Ok(view.filter(|v| v.proposal.vote_of(&signer.organisation).is_some()))
    })
    .await?;
    match counted {
        Some(view) => println!("proposal {}: {}", view.proposal.id, summary(&view)),
        None => {
            println!("not yet in a finalized beacon block; `kaimeng gov list` shows it once it is")
        }
    }
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let node = Node::connect(&args.node)?;
    let members = node.members().await?;
    let method = "kaimeng_epoch";
    let epoch = node
        .client
        .epoch()
        .await
        .map_err(|e| node.explain(method, e))?;
    let proposals = node
        .proposals(if args.all { None } else { Some("open") })
        .await?;
    if args.json {
        let all = serde_json::json!({
            "members": members,
            "epoch": epoch,
            "proposals": proposals,
        });
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print!("{}", render_list(&members, &epoch, &proposals, args.all));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rendering (pure)
// ---------------------------------------------------------------------------------------------

/// The `kaimeng gov list` tables.
pub fn render_list(
    members: &MembersView,
    epoch: &EpochView,
    proposals: &ProposalsView,
    all: bool,
) -> String {
    let mut out = String::new();
    let info = &epoch.epoch;
    let p = &epoch.parameters;
    let _ = writeln!(
        out,
        "epoch {}: heights {} to {} ({} blocks)",
        info.epoch, info.start_height, info.last_height, info.length
    );
    let _ = writeln!(
        out,
        "parameters: min-base-fee {} wei, block-gas-limit {}, epoch-length {}, fee-split {}, \
         committee-size {}, proposal-lifetime-epochs {}",
        p.min_base_fee,
        p.block_gas_limit,
        p.epoch_length,
        fee_split_text(&p.fee_split),
        p.committee_size,
        p.proposal_lifetime_epochs
    );
    if !epoch.scheduled.is_empty() {
        let ids: Vec<_> = epoch.scheduled.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "taking effect at height {}: proposals {}",
            info.last_height,
            ids.join(", ")
        );
    }

    let _ = writeln!(out, "\nmembers ({}):", members.members.len());
    let rows: Vec<Vec<String>> = members
        .members
        .iter()
        .map(|m| {
            vec![
                m.organisation.clone(),
                m.weight.to_string(),
                m.next_nonce.to_string(),
                format!("{}", m.fee_recipient),
                m.peer_id.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            "ORGANISATION",
            "WEIGHT",
            "NONCE",
            "FEE RECIPIENT",
            "PEER ID",
        ],
        &rows,
    );

    let which = if all { "all" } else { "open" };
    let _ = writeln!(out, "\nproposals ({which}: {}):", proposals.proposals.len());
    if proposals.proposals.is_empty() {
        let _ = writeln!(out, "  none");
        return out;
    }
    let rows: Vec<Vec<String>> = proposals
        .proposals
        .iter()
        .map(|v| {
            vec![
                v.proposal.id.to_string(),
                v.proposal.proposer.clone(),
                action_text(&v.proposal.action),
                status_text(&v.proposal.status),
                tally_text(v),
            ]
        })
        .collect();
    table(
        &mut out,
        &["ID", "PROPOSER", "ACTION", "STATUS", "TALLY"],
        &rows,
    );
    out
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut text = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(text, "  {cell:<width$}");
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(out, header.to_vec());
    for row in rows {
        line(out, row.iter().map(String::as_str).collect());
    }
}

/// One line about a proposal: action, status and tally.
pub fn summary(view: &ProposalView) -> String {
    format!(
        "{}; {}; {}",
        action_text(&view.proposal.action),
        status_text(&view.proposal.status),
        tally_text(view)
    )
}

/// `add-member ORG`, `remove-member ORG`, `set-param NAME VALUE`.
pub fn action_text(action: &Action) -> String {
    match action {
        Action::AddMember(member) => format!("add-member {}", member.organisation),
        Action::RemoveMember(organisation) => format!("remove-member {organisation}"),
        Action::SetParameter(parameter) => {
            let value = match parameter {
                Parameter::MinBaseFee(v) => v.to_string(),
                Parameter::BlockGasLimit(v) | Parameter::EpochLength(v) => v.to_string(),
                Parameter::ProposalLifetimeEpochs(v) => v.to_string(),
                Parameter::CommitteeSize(v) => v.to_string(),
                Parameter::FeeSplit(split) => fee_split_text(split),
            };
            format!("set-param {} {value}", parameter.name().replace('_', "-"))
        }
    }
}

fn fee_split_text(split: &FeeSplit) -> String {
    match split {
        FeeSplit::Equal => "equal".into(),
        FeeSplit::ByWeight => "by-weight".into(),
        FeeSplit::Fixed(points) => {
            let entries: Vec<_> = points.iter().map(|(o, p)| format!("{o}={p}")).collect();
            format!("fixed:{}", entries.join(","))
        }
    }
}

fn status_text(status: &ProposalStatus) -> String {
    match status {
        ProposalStatus::Open => "open".into(),
        ProposalStatus::Passed { passed_in_epoch } => {
            format!("passed in epoch {passed_in_epoch}, takes effect at its end")
        }
        ProposalStatus::Enacted { effective_epoch } => {
            format!("enacted from epoch {effective_epoch}")
        }
        ProposalStatus::Failed { epoch, reason } => format!("failed in epoch {epoch}: {reason}"),
        ProposalStatus::Rejected { epoch } => format!("rejected in epoch {epoch}"),
        ProposalStatus::Expired { epoch } => format!("expired at epoch {epoch}"),
    }
}

fn tally_text(view: &ProposalView) -> String {
    let t = &view.tally;
    format!(
        "{} of {} approvals needed, {} against, {} not voted ({} electorate)",
        t.approvals, t.needed, t.rejections, t.outstanding, t.electorate
    )
}
