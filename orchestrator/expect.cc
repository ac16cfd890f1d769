#include "orchestrator/expect.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>

namespace faultline {
namespace {

enum class Truth { kTrue, kFalse, kUnknown };

std::optional<double> AsNumber(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_array()) return static_cast<double>(v.size());
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0') return d;
  }
  return std::nullopt;
}

// Equality as an operator would mean it: 1 = 1.0, "2" = 2, lists equal as sets.
bool ValuesEqual(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_array() && b.is_array()) {
    std::vector<std::string> x, y;
    for (const auto& e : a) x.push_back(e.dump());
    for (const auto& e : b) y.push_back(e.dump());
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    x.erase(std::unique(x.begin(), x.end()), x.end());
    y.erase(std::unique(y.begin(), y.end()), y.end());
    return x == y;
  }
  if ((a.is_number() && (b.is_number() || b.is_string())) || (b.is_number() && a.is_string())) {
    auto x = AsNumber(a), y = AsNumber(b);
    return x && y && *x == *y;
  }
  return a == b;
}

// equals against a list means "is one of".
bool Matches(const nlohmann::json& value, const nlohmann::json& operand) {
  if (operand.is_array() && !value.is_array()) {
    for (const auto& e : operand) {
      if (ValuesEqual(value, e)) return true;
    }
    return false;
  }
  return ValuesEqual(value, operand);
}

bool IsNegated(const nlohmann::json& operand) {
  return operand.is_object() && operand.size() == 1 && operand.contains("not");
}

std::string Trimmed(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return buf;
}

std::string ReplaceRefs(const std::string& text, const Substitutions& subs, Status* st) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("${", pos);
    if (open == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    size_t close = text.find('}', open);
    if (close == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    out += text.substr(pos, open - pos);
    std::string name = text.substr(open + 2, close - open - 2);
    auto it = subs.values.find(name);
    if (it == subs.values.end()) {
      *st = Status::Invalid("${" + name + "} is not known at this point of the run");
      return text;
    }
    if (it->second.is_array()) {
      std::string joined;
      for (const auto& e : it->second) joined += (joined.empty() ? "" : ",") + FormatValue(e);
      out += joined;
    } else {
      out += FormatValue(it->second);
    }
    pos = close + 1;
  }
  return out;
}

struct Window {
  double start = 0;
  std::optional<double> end;  // unset: still open
  std::string anchor;         // fault name
};

// "during the drill", "during kill-active", "after kill-active is reverted".
std::string WindowPhrase(const Expectation& e, const std::string& anchor) {
  switch (e.window) {
    case Expectation::Window::kDrill: return "during the drill";
    case Expectation::Window::kDuringFault: return "during " + anchor;
    case Expectation::Window::kAfterRevert: return "after " + anchor + " is reverted";
  }
  return "";
}

std::string DescribeExpected(const Expectation& e, const std::string& anchor, const std::string& pred) {
  std::string probe = e.probe.Key();
  switch (e.mode) {
    case Expectation::Mode::kWithin: {
      std::string of = e.window == Expectation::Window::kAfterRevert ? "of " + anchor + "'s revert" : "of " + anchor;
      std::string s = probe + " " + pred + " within " + FormatDuration(e.span) + " " + of;
      if (e.window == Expectation::Window::kDuringFault) s += ", while it lasts";
      return s;
    }
    case Expectation::Mode::kAlways: return "always " + probe + " " + pred + " " + WindowPhrase(e, anchor);
    case Expectation::Mode::kNever: return "never " + probe + " " + pred + " " + WindowPhrase(e, anchor);
    case Expectation::Mode::kFor:
      return probe + " " + pred + " for " + FormatDuration(e.span) + " " + WindowPhrase(e, anchor);
  }
  return probe + " " + pred;
}

Evaluation Unknown(JournalVerdict v, const std::string& observed, bool final) {
  v.result = JournalVerdict::Result::kUnknown;
  v.observed = observed;
  v.message = "expected " + v.expected + "; observed " + observed;
  return Evaluation{std::move(v), final};
}

Evaluation Decided(JournalVerdict v, JournalVerdict::Result r, const std::string& observed,
                   std::optional<double> at_ms) {
  v.result = r;
  v.observed = observed;
  v.observed_ms = at_ms;
  v.message = "expected " + v.expected + "; observed " + observed;
  return Evaluation{std::move(v), true};
}

Evaluation Judge(const Expectation& e, const std::vector<TimedValue>& samples, const EvalContext& ctx) {
  JournalVerdict v;
  v.id = e.id;
  v.mark = e.mark;
  const std::string anchor = e.anchor.empty() ? ctx.first_fault : e.anchor;
  const bool drill_over = ctx.drill_end_ms.has_value();

  // Substitutions known from the fault times; ${before} from the samples.
  Substitutions subs;
  const FaultTimes* anchor_times = nullptr;
  if (auto it = ctx.faults.find(anchor); it != ctx.faults.end()) anchor_times = &it->second;
  auto hosts_json = [](const std::vector<std::string>& hosts) {
    return hosts.size() == 1 ? nlohmann::json(hosts[0]) : nlohmann::json(hosts);
  };
  for (const auto& [name, times] : ctx.faults) {
    if (times.inject_ms) subs.values["faults." + name + ".target"] = hosts_json(times.hosts);
  }
  if (anchor_times && anchor_times->inject_ms) subs.values["target"] = hosts_json(anchor_times->hosts);
  std::optional<nlohmann::json> before;
  if (anchor_times && anchor_times->inject_ms) {
    for (const auto& s : samples) {
      if (s.t_ms >= *anchor_times->inject_ms) break;
      if (!s.unreachable) before = s.value;
    }
    if (before) subs.values["before"] = *before;
  }

  nlohmann::json operand;
  Status resolved = ResolveOperand(e.predicate.operand, subs, &operand);
  std::string pred = DescribePredicate(e.predicate, resolved.ok() ? operand : e.predicate.operand, before);
  v.expected = DescribeExpected(e, anchor, pred);

  // The window.
  Window w;
  w.anchor = anchor;
  std::optional<double> earliest;
  for (const auto& [name, times] : ctx.faults) {
    if (times.inject_ms && (!earliest || *times.inject_ms < *earliest)) earliest = times.inject_ms;
  }
  std::optional<double> start;
  switch (e.window) {
    case Expectation::Window::kDrill:
      start = e.anchor.empty() ? earliest : (anchor_times ? anchor_times->inject_ms : std::nullopt);
      w.end = ctx.drill_end_ms;
      break;
    case Expectation::Window::kDuringFault:
      start = anchor_times ? anchor_times->inject_ms : std::nullopt;
      w.end = anchor_times ? anchor_times->revert_ms : std::nullopt;
      break;
    case Expectation::Window::kAfterRevert:
      start = anchor_times ? anchor_times->revert_ms : std::nullopt;
      w.end = ctx.drill_end_ms;
      break;
  }
  if (!start) {
    bool never = drill_over;
    std::string what = e.window == Expectation::Window::kAfterRevert ? "reverted" : "injected";
    return Unknown(v, "nothing: " + (anchor.empty() ? std::string("no fault") : anchor) + " was not " + what +
                          (never ? "" : " yet"), never);
  }
  w.start = *start;
  // A window left open when the drill ended (a fault never reverted) closes there.
  if (!w.end && drill_over) w.end = ctx.observed_until_ms;
  v.window_start_ms = w.start;

  if (!resolved.ok()) return Unknown(v, "nothing judged: " + resolved.message(), drill_over);

  auto truth_of = [&](const TimedValue& s) {
    if (s.unreachable) return Truth::kUnknown;
    auto h = PredicateHolds(e.predicate, operand, s.value, before);
    if (!h) return Truth::kUnknown;
    return *h ? Truth::kTrue : Truth::kFalse;
  };
  auto rel = [&](double t) { return FormatOffset(t - w.start); };
  auto unreachable_text = [&](const TimedValue& s) {
    std::string why = s.unreachable ? (s.error.empty() ? "probe unreachable" : "probe unreachable: " + s.error)
                                    : "could not judge " + FormatValue(s.value);
    return why + " at " + rel(s.t_ms);
  };

  double limit = w.end.value_or(std::numeric_limits<double>::infinity());
  if (e.mode == Expectation::Mode::kWithin) {
    double deadline = w.start + static_cast<double>(e.span.count());
    v.deadline_ms = deadline;
    limit = std::min(limit, deadline);
  }
  // Is everything up to the window's (or deadline's) end already sampled?
  bool complete = ctx.observed_until_ms >= limit || (drill_over && w.end && ctx.observed_until_ms >= *w.end);

  std::vector<const TimedValue*> in;
  for (const auto& s : samples) {
    if (s.t_ms >= w.start && s.t_ms <= limit) in.push_back(&s);
  }
  const TimedValue* first_unknown = nullptr;
  for (const auto* s : in) {
    if (truth_of(*s) == Truth::kUnknown) {
      first_unknown = s;
      break;
    }
  }

  switch (e.mode) {
    case Expectation::Mode::kWithin: {
      for (const auto* s : in) {
        if (truth_of(*s) == Truth::kTrue) {
          v.recovery_ms = s->t_ms - w.start;
          return Decided(v, JournalVerdict::Result::kPass, FormatValue(s->value) + " at " + rel(s->t_ms), s->t_ms);
        }
      }
      if (!complete) return Unknown(v, "not yet seen", false);
      if (first_unknown) return Unknown(v, unreachable_text(*first_unknown) + "; never seen true otherwise", true);
      if (in.empty()) return Unknown(v, "no samples in the window", true);
      const TimedValue* last = in.back();
      return Decided(v, JournalVerdict::Result::kFail, FormatValue(last->value) + " until " + rel(last->t_ms),
                     last->t_ms);
    }
    case Expectation::Mode::kAlways:
    case Expectation::Mode::kNever: {
      const Truth bad = e.mode == Expectation::Mode::kAlways ? Truth::kFalse : Truth::kTrue;
      for (const auto* s : in) {
        if (truth_of(*s) == bad) {
          return Decided(v, JournalVerdict::Result::kFail, FormatValue(s->value) + " at " + rel(s->t_ms), s->t_ms);
        }
      }
      if (first_unknown) return Unknown(v, unreachable_text(*first_unknown), complete);
      if (!complete) return Unknown(v, "holding so far", false);
      if (in.empty()) return Unknown(v, "no samples in the window", true);
      double span = in.back()->t_ms - in.front()->t_ms;
      return Decided(v, JournalVerdict::Result::kPass,
                     "held at all " + std::to_string(in.size()) + " samples over " + Trimmed(span / 1000) + "s",
                     in.back()->t_ms);
    }
    case Expectation::Mode::kFor: {
      const double need = static_cast<double>(e.span.count());
      // Longest run of true samples (pessimistic) and of true-or-unknown (optimistic).
      std::optional<double> run_start, opt_start;
      double best = -1, best_from = 0;
      bool opt_pass = false;
      for (const auto* s : in) {
        Truth t = truth_of(*s);
        if (t == Truth::kTrue) {
          if (!run_start) run_start = s->t_ms;
          double held = s->t_ms - *run_start;
          if (held > best) best = held, best_from = *run_start;
          if (held >= need) {
            v.recovery_ms = *run_start - w.start;
            return Decided(v, JournalVerdict::Result::kPass,
                           "held from " + rel(*run_start) + " to " + rel(s->t_ms), s->t_ms);
          }
        } else {
          run_start.reset();
        }
        if (t != Truth::kFalse) {
          if (!opt_start) opt_start = s->t_ms;
          if (s->t_ms - *opt_start >= need) opt_pass = true;
        } else {
          opt_start.reset();
        }
      }
      if (!complete) return Unknown(v, "not yet held long enough", false);
      if (opt_pass) return Unknown(v, unreachable_text(*first_unknown) + "; never held long enough otherwise", true);
      if (in.empty()) return Unknown(v, "no samples in the window", true);
      std::string observed = best < 0 ? "never held (last " + FormatValue(in.back()->value) + " at " +
                                            rel(in.back()->t_ms) + ")"
                                      : "held at most " + Trimmed(best / 1000) + "s, from " + rel(best_from);
      return Decided(v, JournalVerdict::Result::kFail, observed, in.back()->t_ms);
    }
  }
  return Unknown(v, "unknown expectation mode", true);
}

}  // namespace

std::string FormatValue(const nlohmann::json& value) {
  if (value.is_null()) return "nothing";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + FormatValue(value[i]);
    return out + "]";
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  }
  return value.dump();
}

std::string FormatOffset(double ms) { return "+" + Trimmed(ms / 1000) + "s"; }

Status ResolveOperand(const nlohmann::json& operand, const Substitutions& subs, nlohmann::json* out) {
  if (operand.is_string()) {
    const std::string s = operand.get<std::string>();
    if (s.size() > 3 && s.rfind("${", 0) == 0 && s.back() == '}' && s.find("${", 2) == std::string::npos) {
      std::string name = s.substr(2, s.size() - 3);
      auto it = subs.values.find(name);
      if (it == subs.values.end()) return Status::Invalid("${" + name + "} is not known at this point of the run");
      *out = it->second;
      return Status::Ok();
    }
    Status st;
    *out = ReplaceRefs(s, subs, &st);
    return st;
  }
  if (operand.is_array() || operand.is_object()) {
    *out = operand;
    for (auto& [k, v] : out->items()) {
      nlohmann::json r;
      FAULTLINE_RETURN_IF_ERROR(ResolveOperand(v, subs, &r));
      v = r;
    }
    // A list built from references ([${faults.a.target}, ${faults.b.target}]) is flattened.
    if (out->is_array()) {
      nlohmann::json flat = nlohmann::json::array();
      for (const auto& e : *out) {
        if (e.is_array()) for (const auto& x : e) flat.push_back(x);
        else flat.push_back(e);
      }
      *out = flat;
    }
    return Status::Ok();
  }
  *out = operand;
  return Status::Ok();
}

std::optional<bool> PredicateHolds(const Predicate& predicate, const nlohmann::json& operand,
                                   const nlohmann::json& value, const std::optional<nlohmann::json>& before) {
  switch (predicate.op) {
    case Predicate::Op::kEquals:
      if (IsNegated(operand)) return !Matches(value, operand["not"]);
      return Matches(value, operand);
    case Predicate::Op::kNotEquals:
      if (IsNegated(operand)) return Matches(value, operand["not"]);
      return !Matches(value, operand);
    case Predicate::Op::kPresent:
    case Predicate::Op::kAbsent: {
      bool present = !value.is_null() && !(value.is_string() && value.get<std::string>().empty()) &&
                     !(value.is_array() && value.empty());
      // `present: false` is written by some as the same as `absent: true`.
      bool want = predicate.op == Predicate::Op::kPresent;
      if (operand.is_boolean() && !operand.get<bool>()) want = !want;
      return present == want;
    }
    case Predicate::Op::kAtMost:
    case Predicate::Op::kAtLeast: {
      auto x = AsNumber(value);
      auto limit = AsNumber(operand);
      if (!limit) return std::nullopt;
      if (!x) return false;  // nothing to count is not a number within bounds
      return predicate.op == Predicate::Op::kAtMost ? *x <= *limit : *x >= *limit;
    }
    case Predicate::Op::kChanged: {
      if (!before) return std::nullopt;
      bool changed = !ValuesEqual(value, *before);
      if (operand.is_boolean() && !operand.get<bool>()) return !changed;
      return changed;
    }
  }
  return std::nullopt;
}

std::string DescribePredicate(const Predicate& predicate, const nlohmann::json& operand,
                              const std::optional<nlohmann::json>& before) {
  auto set_text = [](const nlohmann::json& list) {
    std::string out = "{";
    for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + FormatValue(list[i]);
    return out + "}";
  };
  auto eq_text = [&](bool equal, const nlohmann::json& x) {
    if (x.is_array()) return std::string(equal ? "∈ " : "∉ ") + set_text(x);
    return std::string(equal ? "= " : "≠ ") + FormatValue(x);
  };
  switch (predicate.op) {
    case Predicate::Op::kEquals:
      if (IsNegated(operand)) return eq_text(false, operand["not"]);
      return eq_text(true, operand);
    case Predicate::Op::kNotEquals:
      if (IsNegated(operand)) return eq_text(true, operand["not"]);
      return eq_text(false, operand);
    case Predicate::Op::kPresent:
      return operand.is_boolean() && !operand.get<bool>() ? "absent" : "present";
    case Predicate::Op::kAbsent:
      return operand.is_boolean() && !operand.get<bool>() ? "present" : "absent";
    case Predicate::Op::kAtMost: return "≤ " + FormatValue(operand);
    case Predicate::Op::kAtLeast: return "≥ " + FormatValue(operand);
    case Predicate::Op::kChanged: {
      bool unchanged = operand.is_boolean() && !operand.get<bool>();
      std::string from = before ? " from " + FormatValue(*before) : "";
      return (unchanged ? "unchanged" : "changed") + from;
    }
  }
  return "?";
}

Evaluation EvaluateExpectation(const Expectation& expectation, const std::vector<TimedValue>& samples,
                               const EvalContext& context) {
  try {
    return Judge(expectation, samples, context);
  } catch (const std::exception& e) {
    JournalVerdict v;
    v.id = expectation.id;
    v.mark = expectation.mark;
    v.expected = expectation.probe.Key();
    return Unknown(v, std::string("nothing judged: the checker failed: ") + e.what(), true);
  } catch (...) {
    JournalVerdict v;
    v.id = expectation.id;
    v.mark = expectation.mark;
    v.expected = expectation.probe.Key();
    return Unknown(v, "nothing judged: the checker failed", true);
  }
}

}  // namespace faultline
