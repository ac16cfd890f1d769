#include "orchestrator/journal.h"

#include <cmath>
#include <string_view>

namespace faultline {

const char* ResultName(JournalVerdict::Result r) {
  switch (r) {
    case JournalVerdict::Result::kPass: return "pass";
    case JournalVerdict::Result::kFail: return "fail";
    case JournalVerdict::Result::kUnknown: return "unknown";
  }
  return "unknown";
}

namespace {

using Json = nlohmann::json;

// Unset times are written as null rather than left out, so that every journal has the same
// keys and `jq '.verdicts[].deadline_ms'` never has to guess.
Json OptionalNumber(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json ToJson(const SourceMark& m) {
  return Json{{"file", m.file}, {"line", m.line}, {"column", m.column}};
}

// Reads one object's fields and remembers the first problem with its JSON path
// ("verdicts[2].result: expected a string, got number 3").
class Reader {
 public:
  Reader(const Json& object, std::string path, Status* error)
      : object_(object), path_(std::move(path)), error_(error) {}

  bool ok() const { return error_->ok(); }

  void String(const char* key, std::string* out, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    if (!v->is_string()) return Fail(key, "expected a string", *v);
    *out = v->get<std::string>();
  }

  void Number(const char* key, double* out, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    if (!v->is_number()) return Fail(key, "expected a number", *v);
    *out = v->get<double>();
  }

  void OptionalNumber(const char* key, std::optional<double>* out) {
    const Json* v = Find(key, false);
    if (!v || v->is_null()) {
      out->reset();
      return;
    }
    if (!v->is_number()) return Fail(key, "expected a number or null", *v);
    *out = v->get<double>();
  }

  void Int(const char* key, int* out, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    if (!v->is_number_integer()) return Fail(key, "expected an integer", *v);
    *out = v->get<int>();
  }

  void Bool(const char* key, bool* out, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    if (!v->is_boolean()) return Fail(key, "expected true or false", *v);
    *out = v->get<bool>();
  }

  void StringList(const char* key, std::vector<std::string>* out) {
    const Json* v = Find(key, false);
    if (!v) return;
    if (!v->is_array()) return Fail(key, "expected an array of strings", *v);
    out->clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& e = (*v)[i];
      if (!e.is_string()) {
        return Fail((std::string(key) + "[" + std::to_string(i) + "]").c_str(),
                    "expected a string", e);
      }
      out->push_back(e.get<std::string>());
    }
  }

  // Calls read(element_reader, item) for each element of an array of objects.
  template <typename T, typename F>
  void ObjectList(const char* key, std::vector<T>* out, F read, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    if (!v->is_array()) return Fail(key, "expected an array of objects", *v);
    out->clear();
    for (size_t i = 0; i < v->size() && ok(); ++i) {
      std::string where = Child(key) + "[" + std::to_string(i) + "]";
      const Json& e = (*v)[i];
      if (!e.is_object()) {
        *error_ = Status::Invalid(where + ": expected an object, got " + Describe(e));
        return;
      }
      T item;
      Reader r(e, where, error_);
      read(r, item);
      out->push_back(std::move(item));
    }
  }

  // A nested object; absent is allowed unless required.
  template <typename F>
  void Object(const char* key, F read, bool required = false) {
    const Json* v = Find(key, required);
    if (!v) return;
    if (!v->is_object()) return Fail(key, "expected an object", *v);
    Reader r(*v, Child(key), error_);
    read(r);
  }

  const Json* Raw(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }

  void Fail(const char* key, const std::string& expected, const Json& got) {
    if (!ok()) return;
    *error_ = Status::Invalid(Child(key) + ": " + expected + ", got " + Describe(got));
  }

  std::string Child(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

 private:
  const Json* Find(const char* key, bool required) {
    if (!ok()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) *error_ = Status::Invalid(Child(key) + ": missing (required)");
      return nullptr;
    }
    return &*it;
  }

  static std::string Describe(const Json& v) {
    std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return std::string(v.type_name()) + " " + text;
  }

  const Json& object_;
  std::string path_;
  Status* error_;
};

}  // namespace

nlohmann::json ToJson(const Journal& j) {
  Json phases = Json::array();
  for (const auto& p : j.phases) {
    phases.push_back({{"name", p.name}, {"start_ms", p.start_ms}, {"end_ms", p.end_ms}});
  }
  Json faults = Json::array();
  for (const auto& f : j.faults) {
    faults.push_back({{"fault", f.fault},
                      {"action", f.action},
                      {"hosts", f.hosts},
                      {"inject_ms", f.inject_ms},
                      {"revert_ms", OptionalNumber(f.revert_ms)},
                      {"reverted", f.reverted}});
  }
  Json actions = Json::array();
  for (const auto& a : j.actions) {
    actions.push_back({{"t_ms", a.t_ms},
                       {"took_ms", a.took_ms},
                       {"host", a.host},
                       {"fault", a.fault},
                       {"kind", a.kind},
                       {"detail", a.detail},
                       {"ok", a.ok},
                       {"error", a.error}});
  }
  Json samples = Json::array();
  for (const auto& s : j.samples) {
    samples.push_back({{"probe", s.probe},
                       {"t_ms", s.t_ms},
                       {"value", s.value},
                       {"unreachable", s.unreachable},
                       {"error", s.error}});
  }
  Json roles = Json::array();
  for (const auto& r : j.roles) {
    roles.push_back({{"host", r.host}, {"t_ms", r.t_ms}, {"role", r.role}});
  }
  Json verdicts = Json::array();
  for (const auto& v : j.verdicts) {
    verdicts.push_back({{"id", v.id},
                        {"expected", v.expected},
                        {"observed", v.observed},
                        {"result", ResultName(v.result)},
                        {"observed_ms", OptionalNumber(v.observed_ms)},
                        {"window_start_ms", OptionalNumber(v.window_start_ms)},
                        {"deadline_ms", OptionalNumber(v.deadline_ms)},
                        {"recovery_ms", OptionalNumber(v.recovery_ms)},
                        {"message", v.message},
                        {"mark", ToJson(v.mark)}});
  }
  return Json{
      {"schema", kJournalSchema},
      {"run_id", j.run_id},
      {"drill", j.drill},
      {"title", j.title},
      {"drill_file", j.drill_file},
      {"inventory", j.inventory},
      {"started_at", j.started_at},
      {"duration_ms", j.duration_ms},
      {"exit_code", j.exit_code},
      {"hosts", j.hosts},
      {"phases", std::move(phases)},
      {"faults", std::move(faults)},
      {"actions", std::move(actions)},
      {"samples", std::move(samples)},
      {"roles", std::move(roles)},
      {"verdicts", std::move(verdicts)},
      {"leftovers", j.leftovers},
      {"notes", j.notes},
      {"attachments", j.attachments.is_object() ? j.attachments : Json::object()},
  };
}

Status FromJson(const nlohmann::json& json, Journal* out) {
  if (!json.is_object()) {
    return Status::Invalid(std::string("expected a journal object, got ") + json.type_name());
  }
  auto schema = json.find("schema");
  if (schema == json.end()) {
    return Status::Invalid("schema: missing; not a faultline journal (docs/journal.md)");
  }
  if (!schema->is_number_integer() || schema->get<long long>() < 1) {
    return Status::Invalid("schema: expected a positive integer, got " +
                           schema->dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  if (schema->get<long long>() > kJournalSchema) {
    return Status::Invalid("schema: version " + std::to_string(schema->get<long long>()) +
                           " is newer than this faultline reads (" +
                           std::to_string(kJournalSchema) + "); upgrade faultline");
  }

  Status error;
  Journal j;
  Reader r(json, "", &error);
  r.String("run_id", &j.run_id, true);
  r.String("drill", &j.drill, true);
  r.String("title", &j.title);
  r.String("drill_file", &j.drill_file);
  r.String("inventory", &j.inventory);
  r.String("started_at", &j.started_at);
  r.Number("duration_ms", &j.duration_ms);
  r.Int("exit_code", &j.exit_code);
  r.StringList("hosts", &j.hosts);
  r.ObjectList("phases", &j.phases, [](Reader& e, JournalPhase& p) {
    e.String("name", &p.name, true);
    e.Number("start_ms", &p.start_ms, true);
    e.Number("end_ms", &p.end_ms, true);
  });
  r.ObjectList("faults", &j.faults, [](Reader& e, JournalFaultWindow& f) {
    e.String("fault", &f.fault, true);
    e.String("action", &f.action);
    e.StringList("hosts", &f.hosts);
    e.Number("inject_ms", &f.inject_ms, true);
    e.OptionalNumber("revert_ms", &f.revert_ms);
    e.Bool("reverted", &f.reverted, true);
  });
  r.ObjectList("actions", &j.actions, [](Reader& e, JournalAction& a) {
    e.Number("t_ms", &a.t_ms, true);
    e.Number("took_ms", &a.took_ms);
    e.String("host", &a.host);
    e.String("fault", &a.fault);
    e.String("kind", &a.kind, true);
    e.String("detail", &a.detail);
    e.Bool("ok", &a.ok, true);
    e.String("error", &a.error);
  });
  r.ObjectList("samples", &j.samples, [](Reader& e, JournalSample& s) {
    e.String("probe", &s.probe, true);
    e.Number("t_ms", &s.t_ms, true);
    if (const Json* v = e.Raw("value")) s.value = *v;
    e.Bool("unreachable", &s.unreachable);
    e.String("error", &s.error);
  });
  r.ObjectList("roles", &j.roles, [](Reader& e, JournalRole& role) {
    e.String("host", &role.host, true);
    e.Number("t_ms", &role.t_ms, true);
    e.String("role", &role.role, true);
  });
  r.ObjectList(
      "verdicts", &j.verdicts,
      [&error](Reader& e, JournalVerdict& v) {
        e.String("id", &v.id, true);
        e.String("expected", &v.expected);
        e.String("observed", &v.observed);
        std::string result;
        e.String("result", &result, true);
        if (!e.ok()) return;
        if (result == "pass") {
          v.result = JournalVerdict::Result::kPass;
        } else if (result == "fail") {
          v.result = JournalVerdict::Result::kFail;
        } else if (result == "unknown") {
          v.result = JournalVerdict::Result::kUnknown;
        } else {
          error = Status::Invalid(e.Child("result") +
                                  ": expected \"pass\", \"fail\" or \"unknown\", got \"" +
                                  result + "\"");
          return;
        }
        e.OptionalNumber("observed_ms", &v.observed_ms);
        e.OptionalNumber("window_start_ms", &v.window_start_ms);
        e.OptionalNumber("deadline_ms", &v.deadline_ms);
        e.OptionalNumber("recovery_ms", &v.recovery_ms);
        e.String("message", &v.message);
        e.Object("mark", [&v](Reader& m) {
          m.String("file", &v.mark.file);
          m.Int("line", &v.mark.line);
          m.Int("column", &v.mark.column);
        });
      },
      true);
  r.StringList("leftovers", &j.leftovers);
  r.StringList("notes", &j.notes);
  if (const Json* a = r.Raw("attachments"); a && error.ok()) {
    if (!a->is_object()) {
      r.Fail("attachments", "expected an object of name: relative path", *a);
    } else {
      for (const auto& [name, path] : a->items()) {
        if (!path.is_string()) {
          r.Fail(("attachments." + name).c_str(), "expected a string (a relative path)", path);
          break;
        }
      }
      if (error.ok()) j.attachments = *a;
    }
  }
  if (!error.ok()) return error;
  *out = std::move(j);
  return Status::Ok();
}

}  // namespace faultline
