#include "orchestrator/run.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "checks/probe.h"
#include "faults/fault.h"
#include "orchestrator/commands.h"
#include "orchestrator/diagnostics.h"
#include "orchestrator/drill_parser.h"
#include "orchestrator/expect.h"
#include "orchestrator/host_vars.h"
#include "orchestrator/inventory_yaml.h"
#include "orchestrator/plan.h"
#include "orchestrator/progress.h"
#include "orchestrator/sampler.h"

namespace faultline {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kRevertAttempts = 3;
constexpr double kKeepAliveEveryMs = 1000;
constexpr double kJudgeEveryMs = 200;
constexpr auto kTick = milliseconds(20);

std::string IsoUtc(std::chrono::system_clock::time_point tp) {
  std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  auto ms = std::chrono::duration_cast<milliseconds>(tp.time_since_epoch()).count() % 1000;
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

std::string Secs(double ms) { return FormatOffset(ms); }

// What probes may use: the inventory, one transport per host (made on first use and
// kept for the run), the run's clock and when each fault started.
class RunContext : public ProbeContext {
 public:
  RunContext(const Inventory& inventory, const TransportOptions& options, Clock::time_point start,
             std::chrono::system_clock::time_point wall_start)
      : inventory_(inventory), options_(options), start_(start), wall_start_(wall_start) {}

  const Inventory& inventory() const override { return inventory_; }

  Transport* TransportFor(const std::string& host) override {
    Transport* t = nullptr;
    Connect(host, &t);
    return t;
  }

  // Makes (or returns) the transport; the error says why it cannot be made.
  Status Connect(const std::string& host, Transport** out) {
    *out = nullptr;
    const InventoryHost* h = inventory_.FindHost(host);
    if (!h) return Status::NotFound("host " + host + " is not in the inventory");
    std::unique_lock<std::mutex> lock(mu_);
    auto it = transports_.find(host);
    if (it != transports_.end()) {
      *out = it->second.get();
      return Status::Ok();
    }
    // A host that could not be reached is retried at most once a second, so a probe
    // sampling every 50 ms does not hammer it.
    auto failed = failures_.find(host);
    if (failed != failures_.end() && Clock::now() - failed->second.first < std::chrono::seconds(1)) {
      return failed->second.second;
    }
    lock.unlock();
    std::unique_ptr<Transport> made;
    Status st = MakeTransport(*h, options_, &made);
    lock.lock();
    if (!st.ok()) {
      failures_[host] = {Clock::now(), st};
      return st;
    }
    auto& slot = transports_[host];
    if (!slot) slot = std::move(made);
    *out = slot.get();
    return Status::Ok();
  }

  double NowMs() const override {
    return std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
  }
  double StartedAtEpoch() const override {
    return std::chrono::duration<double>(wall_start_.time_since_epoch()).count();
  }
  std::optional<double> FaultStartedMs(const std::string& fault) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fault_started_.find(fault);
    if (it == fault_started_.end()) return std::nullopt;
    return it->second;
  }
  void MarkFaultStarted(const std::string& fault, double t_ms, const std::vector<std::string>& hosts) {
    std::lock_guard<std::mutex> lock(mu_);
    fault_started_.emplace(fault, t_ms);
    fault_hosts_.emplace(fault, hosts);
  }
  std::optional<std::vector<std::string>> FaultHosts(const std::string& fault) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fault_hosts_.find(fault);
    if (it == fault_hosts_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const Inventory& inventory_;
  TransportOptions options_;
  Clock::time_point start_;
  std::chrono::system_clock::time_point wall_start_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Transport>> transports_;
  std::map<std::string, std::pair<Clock::time_point, Status>> failures_;
  std::map<std::string, double> fault_started_;
  std::map<std::string, std::vector<std::string>> fault_hosts_;
};

bool HasReference(const nlohmann::json& params) { return params.dump().find("${") != std::string::npos; }

// A probe whose parameters name a fault's hosts (host: "${target}"): made once that fault's
// target is resolved; until then each sample says what it waits for (unreachable).
class DeferredProbe : public Probe {
 public:
  DeferredProbe(ProbeSpec spec, std::string anchor, std::vector<std::string> faults)
      : spec_(std::move(spec)), anchor_(std::move(anchor)), faults_(std::move(faults)) {}

  Observation Sample(ProbeContext& ctx, std::chrono::milliseconds timeout) override {
    if (!probe_) {
      Substitutions subs;
      auto hosts_json = [](const std::vector<std::string>& hosts) {
        return hosts.size() == 1 ? nlohmann::json(hosts[0]) : nlohmann::json(hosts);
      };
      for (const auto& f : faults_) {
        if (auto hosts = ctx.FaultHosts(f)) subs.values["faults." + f + ".target"] = hosts_json(*hosts);
      }
      if (auto hosts = ctx.FaultHosts(anchor_)) subs.values["target"] = hosts_json(*hosts);
      ProbeSpec resolved = spec_;
      Status st = ResolveOperand(spec_.params, subs, &resolved.params);
      if (!st.ok()) return Observation::Unreachable("waiting for the fault's target: " + st.message());
      st = ProbeRegistry::Global().Make(resolved, ctx.inventory(), &probe_);
      if (!st.ok()) {
        probe_.reset();
        return Observation::Unreachable(spec_.Key() + ": " + st.message());
      }
    }
    return probe_->Sample(ctx, timeout);
  }

 private:
  ProbeSpec spec_;
  std::string anchor_;
  std::vector<std::string> faults_;
  std::unique_ptr<Probe> probe_;
};

// Where an expectation's samples are filed: a probe that names ${target} observes different
// hosts for expectations anchored to different faults.
std::string SampleKey(const Expectation& e, const std::string& anchor) {
  std::string key = e.probe.Key();
  if (HasReference(e.probe.params)) key += " @" + anchor;
  return key;
}

struct FaultState {
  const FaultStep* step = nullptr;
  FaultDriver* driver = nullptr;
  double at_ms = 0;                // planned injection, from the start of the fault phase
  std::optional<double> until_ms;  // planned revert; unset: at the end of the fault phase
  bool attempted = false;          // injection was tried (hosts below may hold it)
  bool reverted = false;
  std::vector<std::string> hosts;  // resolved target
  std::optional<double> inject_ms, revert_ms;
  size_t window = 0;               // index into journal->faults
};

class DrillRun {
 public:
  DrillRun(const Drill& drill, const Inventory& inventory, const RunSettings& settings, Journal* journal)
      : drill_(drill), inventory_(inventory), settings_(settings), journal_(journal) {}

  ~DrillRun() {
    // The last line of defence: whatever path left Run, nothing stays injected.
    RevertAll("the run ended");
  }

  Status Run() {
    try {
      Status st = RunPhases();
      Finish(st);
      return st;
    } catch (const std::exception& e) {
      Status st = Status::Internal(std::string("the run stopped on an unexpected error: ") + e.what());
      RevertAll("an unexpected error");
      Finish(st);
      return st;
    } catch (...) {
      Status st = Status::Internal("the run stopped on an unexpected error");
      RevertAll("an unexpected error");
      Finish(st);
      return st;
    }
  }

 private:
  double Now() const { return context_ ? context_->NowMs() : 0; }
  bool Interrupted() const { return settings_.interrupt && settings_.interrupt->load() != 0; }

  void Say(const std::string& text) {
    if (settings_.progress) settings_.progress->Event(text);
  }
  void Await(const std::string& what) {
    if (settings_.progress) settings_.progress->Awaiting(Now(), what);
  }
  void BeginPhase(const std::string& name) {
    if (!journal_->phases.empty() && journal_->phases.back().end_ms == 0) journal_->phases.back().end_ms = Now();
    journal_->phases.push_back(JournalPhase{name, Now(), 0});
    if (settings_.progress) settings_.progress->Phase(name);
  }
  void Note(const std::string& text) {
    std::lock_guard<std::mutex> lock(journal_mu_);
    journal_->notes.push_back(text);
  }
  void Action(JournalAction a) {
    std::lock_guard<std::mutex> lock(journal_mu_);
    journal_->actions.push_back(std::move(a));
  }

  Status RunPhases() {
    run_id_ = settings_.run_id.empty() ? NewRunId() : settings_.run_id;
    journal_->run_id = run_id_;
    journal_->drill = drill_.name;
    journal_->title = drill_.title;
    journal_->drill_file = drill_.file;
    journal_->inventory = inventory_.name();
    auto wall = std::chrono::system_clock::now();
    start_ = Clock::now();
    journal_->started_at = IsoUtc(wall);
    context_ = std::make_unique<RunContext>(inventory_, settings_.transport, start_, wall);

    // Safety first: nothing is touched unless the drill may run here.
    if (inventory_.production() && settings_.confirm != inventory_.name()) {
      return Status::Invalid("inventory '" + inventory_.name() +
                             "' is marked production (faultline_production); run again with --confirm " +
                             inventory_.name() + " to let drill " + drill_.name + " touch it");
    }
    FAULTLINE_RETURN_IF_ERROR(CheckDrillAgainstInventory(drill_, inventory_));
    FAULTLINE_RETURN_IF_ERROR(Prepare());

    BeginPhase("preflight");
    FAULTLINE_RETURN_IF_ERROR(CheckHosts());
    sampler_->Start();
    FAULTLINE_RETURN_IF_ERROR(AwaitSteadyState());

    BeginPhase("faults");
    if (!settings_.report_dir.empty()) {
      diagnostics_ = std::make_unique<Diagnostics>(
          inventory_, std::vector<std::string>(hosts_.begin(), hosts_.end()), settings_.report_dir, drill_.name,
          run_id_, [this](const std::string& host) { return context_->TransportFor(host); });
      diagnostics_->Begin();
    }
    FAULTLINE_RETURN_IF_ERROR(FaultPhase());

    BeginPhase("recovery");
    Recovery();
    return Interrupted() ? Status::Cancelled(SignalText()) : Status::Ok();
  }

  std::string SignalText() const {
    int sig = settings_.interrupt ? settings_.interrupt->load() : 0;
    return std::string("interrupted by ") + (sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "a signal") +
           ": faults reverted, verdicts judged on what was seen";
  }

  // The fault an expectation's window refers to: its own, or the earliest of the drill.
  std::string AnchorOf(const Expectation& e) const {
    if (!e.anchor.empty() || drill_.faults.empty()) return e.anchor;
    const FaultStep* first = &drill_.faults.front();
    for (const auto& step : drill_.faults) {
      if (step.offset < first->offset) first = &step;
    }
    return first->name;
  }

  // Probes, drivers and the fault timeline, before anything is contacted.
  Status Prepare() {
    milliseconds period = settings_.sample_every.count() > 0 ? settings_.sample_every : drill_.sample_every;
    if (period < milliseconds(10)) period = milliseconds(10);
    sampler_ = std::make_unique<Sampler>(context_.get(), period, [this] { return Now(); });
    std::set<std::string> keys;
    std::vector<std::string> fault_names;
    for (const auto& step : drill_.faults) fault_names.push_back(step.name);
    auto add_probe = [&](const ProbeSpec& spec, const std::string& key, const std::string& anchor) -> Status {
      if (!keys.insert(key).second) return Status::Ok();
      std::unique_ptr<Probe> probe;
      if (HasReference(spec.params)) {
        probe = std::make_unique<DeferredProbe>(spec, anchor, fault_names);
      } else {
        FAULTLINE_RETURN_IF_ERROR(ProbeRegistry::Global().Make(spec, inventory_, &probe));
      }
      sampler_->Add(key, std::move(probe));
      // Hosts the preflight reaches; a reference is a fault's target, reached for the fault.
      if (spec.params.contains("host") && spec.params["host"].is_string() && !HasReference(spec.params)) {
        hosts_.insert(spec.params["host"].get<std::string>());
      }
      return Status::Ok();
    };
    for (const auto& c : drill_.steady_state) FAULTLINE_RETURN_IF_ERROR(add_probe(c.probe, c.probe.Key(), ""));
    for (const auto& e : drill_.expect) {
      FAULTLINE_RETURN_IF_ERROR(add_probe(e.probe, SampleKey(e, AnchorOf(e)), AnchorOf(e)));
    }

    bool any_role = false;
    for (const auto& step : drill_.faults) {
      FaultState f;
      f.step = &step;
      f.at_ms = static_cast<double>(step.offset.count());
      if (step.duration) f.until_ms = f.at_ms + static_cast<double>(step.duration->count());
      auto& driver = drivers_[step.action];
      if (!driver) driver = FaultCatalogue::Global().MakeDriver(step.action);
      if (!driver) {
        return Status::Invalid(step.mark.ToString() + ": fault " + step.name + ": unknown action '" + step.action + "'");
      }
      f.driver = driver.get();
      if (step.target.kind == TargetSpec::Kind::kRole) {
        any_role = true;
        ProbeSpec role;
        role.name = step.target.names.empty() ? "" : step.target.names[0];
        role.mark = step.target.mark;
        FAULTLINE_RETURN_IF_ERROR(add_probe(role, role.Key(), ""));
      } else {
        // With an `except`, the pick depends on what earlier faults landed on: every host
        // of the group may be the one.
        TargetSpec all = step.target;
        if (!all.except.empty()) all.pick = TargetSpec::Pick::kAll;
        all.except.clear();
        std::vector<std::string> hosts;
        FAULTLINE_RETURN_IF_ERROR(ResolveStaticTarget(all, inventory_, run_id_, &hosts));
        hosts_.insert(hosts.begin(), hosts.end());
      }
      faults_.push_back(std::move(f));
    }
    // A log probe counting "since" a fault must name one of this drill's faults.
    auto check_since = [&](const ProbeSpec& spec) -> Status {
      if (spec.name != "log" || !spec.params.contains("since") || !spec.params["since"].is_string()) return Status::Ok();
      const std::string since = spec.params["since"].get<std::string>();
      if (since == "run" || FindFault(since)) return Status::Ok();
      return Status::Invalid(spec.mark.ToString() + ": probe log: 'since' is '" + since +
                             "'; expected run or the name of one of this drill's faults");
    };
    for (const auto& c : drill_.steady_state) FAULTLINE_RETURN_IF_ERROR(check_since(c.probe));
    for (const auto& e : drill_.expect) FAULTLINE_RETURN_IF_ERROR(check_since(e.probe));
    std::stable_sort(faults_.begin(), faults_.end(),
                     [](const FaultState& a, const FaultState& b) { return a.at_ms < b.at_ms; });
    if (!faults_.empty()) first_fault_ = faults_.front().step->name;
    // A role lands on a host only known at run time: every host may be touched.
    if (any_role) {
      for (const auto& [name, host] : inventory_.hosts) hosts_.insert(name);
    }
    journal_->hosts.assign(hosts_.begin(), hosts_.end());

    // Faults without a duration last until the last deadline that concerns them.
    phase_end_ms_ = 0;
    for (const auto& f : faults_) phase_end_ms_ = std::max(phase_end_ms_, f.until_ms.value_or(f.at_ms));
    for (const auto& e : drill_.expect) {
      if (e.window == Expectation::Window::kAfterRevert) continue;
      if (e.mode != Expectation::Mode::kWithin && e.mode != Expectation::Mode::kFor) continue;
      const FaultState* a = FindFault(e.anchor.empty() ? first_fault_ : e.anchor);
      if (a && !a->until_ms) phase_end_ms_ = std::max(phase_end_ms_, a->at_ms + static_cast<double>(e.span.count()));
    }
    double last_at = faults_.empty() ? 0 : faults_.back().at_ms;
    phase_end_ms_ = std::max(phase_end_ms_, last_at + 1000);
    return Status::Ok();
  }

  FaultState* FindFault(const std::string& name) {
    for (auto& f : faults_) {
      if (f.step->name == name) return &f;
    }
    return nullptr;
  }

  // Every host the drill can touch answers over its transport.
  Status CheckHosts() {
    std::vector<std::string> hosts(hosts_.begin(), hosts_.end());
    std::vector<Status> results(hosts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < hosts.size(); ++i) {
      threads.emplace_back([&, i] {
        Transport* t = nullptr;
        Status st = context_->Connect(hosts[i], &t);
        if (st.ok()) {
          ExecRequest req;
          req.argv = {"true"};
          req.timeout = settings_.transport.connect_timeout;
          ExecResult res;
          st = t->Exec(req, &res);
          if (st.ok() && res.exit_status != 0) {
            st = Status::Unavailable("`true` exited with status " + std::to_string(res.exit_status));
          }
          if (!st.ok()) st = st.Annotate(t->Describe());
        }
        results[i] = st;
      });
    }
    for (auto& t : threads) t.join();
    for (size_t i = 0; i < hosts.size(); ++i) {
      if (!results[i].ok()) {
        return Status::Unavailable("preflight: host " + hosts[i] + " cannot be reached: " + results[i].message());
      }
    }
    Say("preflight: " + std::to_string(hosts.size()) + " host(s) answer");
    return Status::Ok();
  }

  // True when every steady-state check holds on a sample taken at or after `since_ms`.
  bool SteadyHolds(double since_ms, std::string* why) {
    for (const auto& c : drill_.steady_state) {
      const std::string key = c.probe.Key();
      auto latest = sampler_->Latest(key);
      nlohmann::json operand;
      Status st = ResolveOperand(c.predicate.operand, Substitutions{}, &operand);
      std::string pred = DescribePredicate(c.predicate, st.ok() ? operand : c.predicate.operand, std::nullopt);
      if (!st.ok()) {
        *why = key + " " + pred + ": " + st.message();
        return false;
      }
      if (!latest || latest->t_ms < since_ms) {
        *why = key + " " + pred + " (waiting for a sample)";
        return false;
      }
      if (latest->unreachable) {
        *why = key + " " + pred + " (unreachable: " + latest->error + ")";
        return false;
      }
      auto holds = PredicateHolds(c.predicate, operand, latest->value, std::nullopt);
      if (!holds || !*holds) {
        *why = key + " " + pred + " (observed " + FormatValue(latest->value) + ")";
        return false;
      }
    }
    return true;
  }

  Status AwaitSteadyState() {
    const double deadline = Now() + static_cast<double>(drill_.preflight_within.count());
    std::string why;
    // Every probe reports once before any fault: ${before}, `changed` and log windows
    // need a value from before the fault, and a probe that cannot answer is known now.
    bool steady = false;
    auto ready = [&] {
      steady = SteadyHolds(0, &why);
      if (!steady) return false;
      auto silent = sampler_->Unsampled();
      if (silent.empty()) return true;
      why = silent.front() + " has not reported yet";
      return false;
    };
    while (!ready()) {
      if (Interrupted()) return Status::Cancelled(SignalText());
      if (Now() >= deadline && steady) {
        return Status::Unavailable("preflight: " + why + " after " + FormatDuration(drill_.preflight_within) +
                                   " (expected every probe to answer once before any fault); no fault was injected");
      }
      if (Now() >= deadline) {
        return Status::Unavailable("preflight: steady state did not hold within " +
                                   FormatDuration(drill_.preflight_within) + ": expected " + why +
                                   "; no fault was injected");
      }
      Await("steady state: " + why);
      std::this_thread::sleep_for(kTick);
    }
    Say("preflight: steady state holds");
    return Status::Ok();
  }

  EvalContext Context(bool over) const {
    EvalContext c;
    for (const auto& f : faults_) {
      c.faults[f.step->name] = FaultTimes{f.hosts, f.inject_ms, f.revert_ms};
    }
    c.first_fault = first_fault_;
    if (over) c.drill_end_ms = drill_end_ms_;
    c.observed_until_ms = over ? drill_end_ms_ : sampler_->CoveredUntil();
    return c;
  }

  std::vector<Evaluation> Judge(bool over) {
    EvalContext c = Context(over);
    std::vector<Evaluation> out;
    for (const auto& e : drill_.expect) {
      out.push_back(EvaluateExpectation(e, sampler_->Samples(SampleKey(e, AnchorOf(e))), c));
    }
    return out;
  }

  Status FaultPhase() {
    t0_ = Now();
    double last_keepalive = Now(), last_judge = Now();
    for (;;) {
      if (Interrupted()) {
        Say(SignalText().substr(0, SignalText().find(':')) + ": reverting every fault now");
        break;
      }
      const double rel = Now() - t0_;
      for (auto& f : faults_) {
        if (!f.attempted && rel >= f.at_ms) {
          Status st = Inject(f);
          if (!st.ok()) {
            RevertAll("a failed injection");
            return st;
          }
        }
      }
      bool all_done = true;
      for (auto& f : faults_) {
        if (f.attempted && !f.reverted && Now() - t0_ >= f.until_ms.value_or(phase_end_ms_)) Revert(f, "its end");
        all_done = all_done && f.attempted && f.reverted;
      }
      if (all_done) break;
      if (Now() - last_keepalive >= kKeepAliveEveryMs) {
        last_keepalive = Now();
        for (auto& [action, driver] : drivers_) driver->KeepAlive();
      }
      if (Now() - last_judge >= kJudgeEveryMs) {
        last_judge = Now();
        if (JudgeDuringFaults()) break;
      }
      std::this_thread::sleep_for(kTick);
    }
    RevertAll(Interrupted() ? "the interrupt" : "the end of the fault phase");
    return Status::Ok();
  }

  // Returns true when the fault phase should end now (something definitely failed).
  bool JudgeDuringFaults() {
    auto evals = Judge(false);
    bool deadlines_decided = true;
    std::string awaited;
    for (size_t i = 0; i < evals.size(); ++i) {
      const auto& e = drill_.expect[i];
      const auto& v = evals[i];
      if (v.final && v.verdict.result == JournalVerdict::Result::kFail) {
        std::string text = "expectation " + e.id + " failed: " + v.verdict.message +
                           "; reverting now, holding the fault longer teaches nothing";
        Note(text);
        Say(text);
        return true;
      }
      bool deadline_kind = e.mode == Expectation::Mode::kWithin || e.mode == Expectation::Mode::kFor;
      if (deadline_kind && e.window != Expectation::Window::kAfterRevert && !v.final) {
        deadlines_decided = false;
        if (awaited.empty()) awaited = v.verdict.expected;
      }
    }
    // Faults held "until the end of the fault phase" are released once every deadline
    // that concerns them has been decided.
    bool all_injected = std::all_of(faults_.begin(), faults_.end(), [](const FaultState& f) { return f.attempted; });
    if (deadlines_decided && all_injected && !evals.empty()) phase_end_ms_ = std::min(phase_end_ms_, Now() - t0_);
    if (!awaited.empty()) {
      Await(awaited);
      return false;
    }
    // Otherwise the next thing to happen is a revert (or an injection still to come).
    const FaultState* next = nullptr;
    double next_at = 0;
    for (const auto& f : faults_) {
      double at = !f.attempted ? f.at_ms : f.reverted ? -1 : f.until_ms.value_or(phase_end_ms_);
      if (at >= 0 && (!next || at < next_at)) next = &f, next_at = at;
    }
    if (next) {
      Await(next->attempted ? "holding " + next->step->name + " until " + Secs(next_at) + " of the fault phase"
                            : "injecting " + next->step->name + " at " + Secs(next_at) + " of the fault phase");
    }
    return false;
  }

  // The hosts a target's `except` leaves out: names as written, and the hosts earlier
  // faults landed on.
  Status Excluded(const TargetSpec& t, std::vector<std::string>* out) {
    out->clear();
    for (const auto& x : t.except) {
      const std::string ref = FaultTargetRef(x);
      if (ref.empty()) {
        if (!inventory_.FindHost(x)) return Status::Invalid("'except' names host " + x + ", which is not in the inventory");
        out->push_back(x);
        continue;
      }
      const FaultState* other = FindFault(ref);
      if (!other || !other->attempted) return Status::Unavailable("'except' refers to fault " + ref + ", which has not been injected yet");
      out->insert(out->end(), other->hosts.begin(), other->hosts.end());
    }
    return Status::Ok();
  }

  Status ResolveTarget(const FaultState& f, std::vector<std::string>* hosts, std::string* detail) {
    const TargetSpec& t = f.step->target;
    std::vector<std::string> excluded;
    FAULTLINE_RETURN_IF_ERROR(Excluded(t, &excluded));
    const std::string except_text = excluded.empty() ? "" : " except " + JoinNames(excluded, ",");
    if (t.kind != TargetSpec::Kind::kRole) {
      FAULTLINE_RETURN_IF_ERROR(ResolveStaticTarget(t, inventory_, run_id_, hosts, excluded));
      *detail = (t.kind == TargetSpec::Kind::kHost ? "hosts " : "group " + t.names[0] + except_text + " → ");
      for (size_t i = 0; i < hosts->size(); ++i) *detail += (i ? "," : "") + (*hosts)[i];
      return Status::Ok();
    }
    const std::string role = t.names.empty() ? "" : t.names[0];
    auto latest = sampler_->Latest(ProbeSpec{role, nlohmann::json::object(), {}}.Key());
    if (!latest) return Status::Unavailable("role " + role + " has not been observed yet");
    if (latest->unreachable) return Status::Unavailable("role " + role + " cannot be observed: " + latest->error);
    std::vector<std::string> candidates;
    if (latest->value.is_string()) {
      candidates.push_back(latest->value.get<std::string>());
    } else if (latest->value.is_array()) {
      for (const auto& v : latest->value) {
        if (v.is_string()) candidates.push_back(v.get<std::string>());
      }
    }
    for (const auto& c : candidates) {
      if (!inventory_.FindHost(c)) {
        return Status::Unavailable("role " + role + " names " + c + ", which is not a host of the inventory");
      }
    }
    if (candidates.empty()) {
      return Status::Unavailable("role " + role + " names no host now (observed " + FormatValue(latest->value) + ")");
    }
    std::vector<std::string> kept;
    for (const auto& c : candidates) {
      if (std::find(excluded.begin(), excluded.end(), c) == excluded.end()) kept.push_back(c);
    }
    if (kept.empty()) {
      return Status::Unavailable("role " + role + " names only " + FormatValue(latest->value) + ", all left out by" +
                                 except_text);
    }
    *hosts = PickHosts(kept, t.pick, run_id_, role);
    *detail = "role " + role + " = " + FormatValue(latest->value) + " at " + Secs(latest->t_ms) + except_text + " → ";
    for (size_t i = 0; i < hosts->size(); ++i) *detail += (i ? "," : "") + (*hosts)[i];
    return Status::Ok();
  }

  // The fault as it lands on one host; "${host.<var>}" in its parameters becomes that host's
  // inventory variable (e.g. path: ${host.zookeeper_data_dir}), so one drill serves hosts
  // whose layouts differ.
  Status Instance(const FaultState& f, const std::string& host, FaultInstance* inst) const {
    inst->run_id = run_id_;
    inst->fault = f.step->name;
    inst->action = f.step->action;
    inst->host = host;
    inst->params = f.step->params;
    if (const InventoryHost* h = inventory_.FindHost(host)) inst->host_vars = h->vars;
    inst->duration = f.step->duration;
    Status st = ExpandHostVars(&inst->params, inst->host_vars);
    if (st.ok() && inst->action.rfind("network.", 0) == 0) st = ResolvePeers(&inst->params, inventory_, host);
    if (!st.ok()) {
      return Status::Invalid("fault " + f.step->name + " (" + f.step->mark.ToString() + ") on " + host + ": " +
                             st.message());
    }
    return Status::Ok();
  }

  Status Inject(FaultState& f) {
    const std::string& name = f.step->name;
    double t_resolve = Now();
    std::string detail;
    Status st = ResolveTarget(f, &f.hosts, &detail);
    Action(JournalAction{t_resolve, Now() - t_resolve, "", name, "resolve", detail, st.ok(), st.message()});
    if (!st.ok()) {
      f.attempted = true;
      f.reverted = true;  // nothing was applied
      return Status::Unavailable("fault " + name + " (" + f.step->mark.ToString() + "): cannot resolve target: " +
                                 st.message());
    }
    {
      std::lock_guard<std::mutex> lock(journal_mu_);
      f.window = journal_->faults.size();
      journal_->faults.push_back(JournalFaultWindow{name, f.step->action, f.hosts, Now(), std::nullopt, false});
    }
    context_->MarkFaultStarted(name, Now(), f.hosts);
    f.attempted = true;  // from here on, the hosts are reverted whatever happens
    std::vector<Status> results(f.hosts.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < f.hosts.size(); ++i) {
      threads.emplace_back([&, i] {
        const std::string& host = f.hosts[i];
        double t = Now();
        Transport* transport = nullptr;
        Status s = context_->Connect(host, &transport);
        InjectOutcome out;
        FaultInstance inst;
        if (s.ok()) s = Instance(f, host, &inst);
        if (s.ok()) s = f.driver->Inject(inst, *transport, &out);
        results[i] = s;
        Action(JournalAction{t, Now() - t, host, name, "inject", out.detail, s.ok(), s.message()});
        for (const auto& n : out.notes) Note(host + ": " + n);
      });
    }
    for (auto& t : threads) t.join();
    f.inject_ms = Now();
    journal_->faults[f.window].inject_ms = *f.inject_ms;
    for (size_t i = 0; i < f.hosts.size(); ++i) {
      if (!results[i].ok()) {
        return Status::Unavailable("fault " + name + " (" + f.step->mark.ToString() + "): injection on " +
                                   f.hosts[i] + " failed: " + results[i].message());
      }
    }
    std::string where;
    for (const auto& h : f.hosts) where += (where.empty() ? "" : ",") + h;
    Say("injected " + name + " (" + f.step->action + ") on " + where);
    return Status::Ok();
  }

  void Revert(FaultState& f, const std::string& why) {
    if (!f.attempted || f.reverted) return;
    f.reverted = true;
    const std::string& name = f.step->name;
    std::vector<bool> ok(f.hosts.size(), false);
    std::vector<std::thread> threads;
    for (size_t i = 0; i < f.hosts.size(); ++i) {
      threads.emplace_back([&, i] {
        const std::string& host = f.hosts[i];
        Status s;
        for (int attempt = 1; attempt <= kRevertAttempts; ++attempt) {
          double t = Now();
          Transport* transport = nullptr;
          s = context_->Connect(host, &transport);
          std::string detail;
          FaultInstance inst;
          if (s.ok()) s = Instance(f, host, &inst);
          if (s.ok()) s = f.driver->Revert(inst, *transport, &detail);
          if (s.ok() && attempt > 1) detail += " (attempt " + std::to_string(attempt) + ")";
          Action(JournalAction{t, Now() - t, host, name, "revert", detail, s.ok(), s.message()});
          if (s.ok()) break;
          if (attempt < kRevertAttempts) std::this_thread::sleep_for(milliseconds(500 * attempt));
        }
        ok[i] = s.ok();
        if (!s.ok()) {
          std::lock_guard<std::mutex> lock(journal_mu_);
          journal_->leftovers.push_back(host + ": fault " + name + " (" + f.step->action + ") may still be in place: " +
                                        s.message());
        }
      });
    }
    for (auto& t : threads) t.join();
    f.revert_ms = Now();
    bool all_ok = std::all_of(ok.begin(), ok.end(), [](bool b) { return b; });
    if (f.window < journal_->faults.size() && journal_->faults[f.window].fault == name) {
      journal_->faults[f.window].revert_ms = *f.revert_ms;
      journal_->faults[f.window].reverted = all_ok;
    }
    Say(std::string(all_ok ? "reverted " : "REVERT FAILED for ") + name + " (at " + why + ")");
  }

  void RevertAll(const std::string& why) {
    for (auto& f : faults_) Revert(f, why);
  }

  void Recovery() {
    double last_revert = 0;
    for (const auto& f : faults_) last_revert = std::max(last_revert, f.revert_ms.value_or(0));
    if (last_revert == 0) last_revert = Now();
    const double deadline = last_revert + static_cast<double>(drill_.recover_within.count());
    // Deadlines that reach past the recovery deadline are still waited for, but no longer.
    double hard_end = deadline;
    for (const auto& e : drill_.expect) {
      if (e.mode == Expectation::Mode::kWithin) hard_end = std::max(hard_end, last_revert + static_cast<double>(e.span.count()));
    }
    std::string why;
    double last_judge = -1e18;
    bool pending_within = true, pending_for = true;
    for (;;) {
      if (Interrupted()) break;
      if (!recovered_at_ && SteadyHolds(last_revert, &why)) {
        recovered_at_ = Now();
        Say("recovery: steady state holds again after " + Secs(*recovered_at_ - last_revert));
      }
      if (Now() - last_judge >= kJudgeEveryMs) {
        last_judge = Now();
        pending_within = pending_for = false;
        auto evals = Judge(false);
        for (size_t i = 0; i < evals.size(); ++i) {
          if (evals[i].final) continue;
          if (drill_.expect[i].mode == Expectation::Mode::kWithin) pending_within = true;
          if (drill_.expect[i].mode == Expectation::Mode::kFor) pending_for = true;
        }
      }
      const double now = Now();
      bool settled = recovered_at_ && !pending_within && !pending_for;
      if (settled || (now >= deadline && !pending_within) || now >= hard_end) break;
      Await(recovered_at_ ? "expectation deadlines" : "steady state again: " + why);
      std::this_thread::sleep_for(kTick);
    }
    recovery_deadline_ms_ = deadline;
    recovery_since_ms_ = last_revert;
    recovery_why_ = why;
  }

  void Finish(const Status& status) {
    // Reverts come before judging: a leftover must be known when the exit code is chosen.
    RevertAll("the end of the run");
    drill_end_ms_ = Now();
    if (sampler_) {
      sampler_->Stop();
      sampler_->Export(&journal_->samples, &journal_->roles);
    }
    if (diagnostics_) diagnostics_->End(journal_);
    if (!journal_->phases.empty() && journal_->phases.back().end_ms == 0) journal_->phases.back().end_ms = drill_end_ms_;
    if (!status.ok()) Note(status.ToString());

    bool ran = sampler_ && !faults_.empty() && faults_.front().attempted;
    if (sampler_) {
      auto evals = Judge(true);
      for (size_t i = 0; i < evals.size(); ++i) {
        JournalVerdict v = std::move(evals[i].verdict);
        if (!ran) {
          v.result = JournalVerdict::Result::kUnknown;
          v.observed = "nothing: the drill stopped before any fault (" + status.message() + ")";
          v.message = "expected " + v.expected + "; observed " + v.observed;
        } else if (Interrupted() && v.result != JournalVerdict::Result::kPass && v.deadline_ms &&
                   *v.deadline_ms > drill_end_ms_) {
          v.result = JournalVerdict::Result::kUnknown;
          v.observed = "nothing decisive before the run was interrupted at " + Secs(drill_end_ms_ - *v.window_start_ms);
          v.message = "expected " + v.expected + "; observed " + v.observed;
        }
        journal_->verdicts.push_back(std::move(v));
      }
    }
    if (ran && !drill_.steady_state.empty()) journal_->verdicts.push_back(RecoveryVerdict());

    journal_->duration_ms = drill_end_ms_;
    int code = kExitOk;
    if (!status.ok()) {
      code = status.code() == Status::Code::kInvalid ? kExitInvalid : kExitInfra;
    } else {
      for (const auto& v : journal_->verdicts) {
        if (v.result != JournalVerdict::Result::kPass) code = kExitExpectation;
      }
    }
    if (!journal_->leftovers.empty()) code = kExitLeftover;
    journal_->exit_code = code;
  }

  JournalVerdict RecoveryVerdict() {
    JournalVerdict v;
    v.id = "recover";
    v.mark = drill_.mark;
    v.expected = "steady state again within " + FormatDuration(drill_.recover_within) + " of the last revert";
    v.window_start_ms = recovery_since_ms_;
    v.deadline_ms = recovery_deadline_ms_;
    if (recovered_at_ && recovery_since_ms_) {
      v.result = *recovered_at_ <= *recovery_deadline_ms_ ? JournalVerdict::Result::kPass
                                                          : JournalVerdict::Result::kFail;
      v.observed_ms = *recovered_at_;
      v.recovery_ms = *recovered_at_ - *recovery_since_ms_;
      v.observed = "steady at " + Secs(*v.recovery_ms);
    } else if (Interrupted() || !recovery_since_ms_) {
      v.result = JournalVerdict::Result::kUnknown;
      v.observed = "not yet steady when the run stopped" + (recovery_why_.empty() ? "" : ": " + recovery_why_);
    } else {
      v.result = JournalVerdict::Result::kFail;
      v.observed = "not steady by " + Secs(*recovery_deadline_ms_ - *recovery_since_ms_) + ": " + recovery_why_;
    }
    v.message = "expected " + v.expected + "; observed " + v.observed;
    return v;
  }

  const Drill& drill_;
  const Inventory& inventory_;
  const RunSettings& settings_;
  Journal* journal_;
  std::mutex journal_mu_;
  std::string run_id_;
  Clock::time_point start_;
  std::unique_ptr<RunContext> context_;
  std::unique_ptr<Sampler> sampler_;
  std::map<std::string, std::unique_ptr<FaultDriver>> drivers_;
  std::vector<FaultState> faults_;
  std::set<std::string> hosts_;
  std::unique_ptr<Diagnostics> diagnostics_;
  std::string first_fault_;
  double t0_ = 0;
  double phase_end_ms_ = 0;
  double drill_end_ms_ = 0;
  std::optional<double> recovered_at_;
  std::optional<double> recovery_deadline_ms_, recovery_since_ms_;
  std::string recovery_why_;
};

std::atomic<int> g_interrupt{0};
std::atomic<int> g_interrupt_count{0};

void OnInterrupt(int sig) {
  g_interrupt.store(sig);
  if (g_interrupt_count.fetch_add(1) + 1 >= 3) _exit(130);
}

}  // namespace

Status RunDrill(const Drill& drill, const Inventory& inventory, const RunSettings& settings, Journal* journal) {
  DrillRun run(drill, inventory, settings, journal);
  return run.Run();
}

std::string NewRunId() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", rd() & 0xffff);
  return std::string(buf) + "-" + suffix;
}

const std::atomic<int>* InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return &g_interrupt;
}

}  // namespace faultline
