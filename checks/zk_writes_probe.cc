// zk.writes: a set check of acknowledged writes across the whole drill, as Jepsen checks a
// set. The probe writes one sequential znode at a time through a session on the whole
// connection string (so the write fails over as a client's would), remembers the writes the
// ensemble acknowledged, and on every sample asks each server on its own (after a sync) for
// the children it holds. The value is true only when every server answers and holds every
// acknowledged write; a server that lacks one is named with the writes it lacks.
//
// The writes go under <path>/<run stamp> (default /faultline-writes/...), at most one per
// `every` (default 1s), and are deleted when the run ends (bounded in time: a cluster that
// cannot take the deletes keeps them, and the journal says where).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <set>

#include "base/duration.h"
#include "checks/zk_probe_util.h"
#include "checks/zk_role_probes.h"

namespace faultline {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Acked {
  std::mutex mu;
  std::vector<std::string> names;  // GUARDED_BY(mu), in acknowledgement order
  long refused = 0;                // GUARDED_BY(mu): writes the ensemble answered with an error
};

class ZkWritesProbe : public Probe {
 public:
  ZkWritesProbe(std::vector<ZkServer> servers, std::string connect, std::string root, milliseconds every)
      : servers_(std::move(servers)), writer_(connect), root_(std::move(root)), every_(every),
        acked_(std::make_shared<Acked>()) {
    for (const auto& s : servers_) {
      readers_.push_back(std::make_unique<ZnodeSession>(s.address + ":" + std::to_string(s.port)));
    }
  }

  ~ZkWritesProbe() override { RemoveWrites(); }

  Observation Sample(ProbeContext& ctx, milliseconds timeout) override {
    if (parent_.empty()) {
      char stamp[64];
      snprintf(stamp, sizeof stamp, "run-%lld-%d", static_cast<long long>(ctx.StartedAtEpoch() * 1000), getpid());
      parent_ = root_ + "/" + stamp;
    }
    auto now = Clock::now();
    if (have_last_ && now - last_at_ < every_) return last_;
    last_at_ = now;
    Write(timeout / 2);
    last_ = Check(timeout / 2);
    have_last_ = true;
    return last_;
  }

 private:
  void Write(milliseconds timeout) {
    Status why;
    ZkClient* zk = writer_.Reader(timeout, &why);
    if (!zk) return;  // no session: nothing sent, nothing to expect
    if (!parent_made_) {
      ZkError root = zk->Exists(root_);
      if (root != ZkError::kOk && root != ZkError::kNoNode) return;
      if (!zk->EnsurePath(parent_).ok()) return;
      root_ours_ = root == ZkError::kNoNode;
      parent_made_ = true;
    }
    std::shared_ptr<Acked> acked = acked_;
    zk->CreateSequentialAsync(parent_ + "/w-", "", [acked](ZkError e, const std::string& created) {
      std::lock_guard<std::mutex> lock(acked->mu);
      if (e == ZkError::kOk) {
        acked->names.push_back(created.substr(created.rfind('/') + 1));
      } else if (e != ZkError::kConnectionLoss) {
        acked->refused++;  // an answer, and not an acknowledgement; connection loss is neither
      }
    });
  }

  struct ServerView {
    bool answered = false;
    std::string why;
    std::set<std::string> children;
  };

  ServerView Read(size_t i, milliseconds timeout) {
    ServerView v;
    Status why;
    ZkClient* zk = readers_[i]->Reader(timeout, &why);
    if (!zk) {
      v.why = why.message();
      return v;
    }
    if (zk->Sync(parent_, timeout, &why) != ZkError::kOk && why.code() != Status::Code::kNotFound) {
      v.why = why.message();
      return v;
    }
    std::vector<std::string> names;
    ZkError e = zk->Children(parent_, &names, &why);
    if (e == ZkError::kNoNode) {
      v.answered = true;  // nothing written yet, or the parent itself is missing
      return v;
    }
    if (e != ZkError::kOk) {
      v.why = why.message();
      return v;
    }
    v.answered = true;
    v.children.insert(names.begin(), names.end());
    return v;
  }

  Observation Check(milliseconds timeout) {
    std::vector<std::string> expected;
    long refused;
    {
      std::lock_guard<std::mutex> lock(acked_->mu);
      expected = acked_->names;
      refused = acked_->refused;
    }
    std::vector<std::future<ServerView>> views;
    for (size_t i = 0; i < servers_.size(); ++i) {
      views.push_back(std::async(std::launch::async, [this, i, timeout] { return Read(i, timeout); }));
    }
    std::vector<std::string> problems;
    for (size_t i = 0; i < servers_.size(); ++i) {
      ServerView v = views[i].get();
      if (!v.answered) {
        problems.push_back(servers_[i].host + " not answering (" + v.why + ")");
        continue;
      }
      std::vector<std::string> missing;
      for (const auto& n : expected) {
        if (!v.children.count(n)) missing.push_back(n);
      }
      if (!missing.empty()) {
        std::string some;
        for (size_t k = 0; k < missing.size() && k < 3; ++k) some += (k ? ", " : "") + missing[k];
        problems.push_back(servers_[i].host + " lacks " + std::to_string(missing.size()) + " of " +
                           std::to_string(expected.size()) + " acknowledged writes (" + some +
                           (missing.size() > 3 ? ", ..." : "") + ")");
      }
    }
    Observation o = Observation::Value(problems.empty());
    std::string summary = std::to_string(expected.size()) + " acknowledged writes under " + parent_ +
                          (refused ? ", " + std::to_string(refused) + " refused" : "");
    if (!problems.empty()) {
      std::string all;
      for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
      o.error = all + " [" + summary + "]";
    }
    return o;
  }

  void RemoveWrites() {
    if (!parent_made_) return;
    const auto until = Clock::now() + std::chrono::seconds(10);
    Status why;
    ZkClient* zk = writer_.Reader(milliseconds(3000), &why);
    if (!zk) return;
    // A write still in flight may land after the listing: list and delete until the parent
    // itself goes.
    while (Clock::now() < until) {
      std::vector<std::string> names;
      ZkError e = zk->Children(parent_, &names);
      if (e == ZkError::kNoNode) break;
      if (e != ZkError::kOk) return;
      for (const auto& n : names) zk->Delete(parent_ + "/" + n);
      if (zk->Delete(parent_) == ZkError::kOk) break;
    }
    if (root_ours_) zk->Delete(root_);  // fails, as it should, while another run's writes are there
  }

  std::vector<ZkServer> servers_;
  ZnodeSession writer_;
  std::vector<std::unique_ptr<ZnodeSession>> readers_;
  std::string root_;
  milliseconds every_;
  std::shared_ptr<Acked> acked_;
  std::string parent_;
  bool parent_made_ = false;
  bool root_ours_ = false;  // the root did not exist before this run
  bool have_last_ = false;
  Clock::time_point last_at_;
  Observation last_;
};

}  // namespace

void RegisterZkWritesProbe() {
  ProbeInfo info;
  info.name = "zk.writes";
  info.summary =
      "true when every server holds every write this probe had acknowledged (it writes one sequential znode "
      "per `every` through the whole connection string)";
  info.params = {{"group", false, "the inventory group of the ZooKeeper servers (default zookeeper)", "group"},
                 {"path", false, "where the writes go (default /faultline-writes); removed at the end", ""},
                 {"every", false, "at most one write and one check per this long (default 1s)", ""}};
  ProbeRegistry::Global().Register(info, [](const ProbeSpec& spec, const Inventory& inventory,
                                            std::unique_ptr<Probe>* out) {
    FAULTLINE_RETURN_IF_ERROR(CheckParams(spec, {"group", "path", "every"}));
    const std::string where = spec.mark.ToString() + ": probe zk.writes";
    std::vector<ZkServer> servers;
    FAULTLINE_RETURN_IF_ERROR(ZkServersOf(inventory, ZkGroupFor(spec, inventory), &servers));
    std::string root = ParamString(spec, "path", "/faultline-writes");
    if (root.size() < 2 || root[0] != '/' || root.back() == '/') {
      return Status::Invalid(where + ": path '" + root + "' is not an absolute znode path (e.g. /faultline-writes)");
    }
    milliseconds every(1000);
    std::string every_text = ParamString(spec, "every");
    if (!every_text.empty()) {
      std::string why;
      auto d = ParseDuration(every_text, &why);
      if (!d || d->count() <= 0) {
        return Status::Invalid(where + ": every '" + every_text + "' is not a duration such as 500ms or 2s" +
                               (why.empty() ? "" : " (" + why + ")"));
      }
      every = milliseconds(d->count());
    }
    *out = std::make_unique<ZkWritesProbe>(servers, ZkConnectString(inventory, servers), root, every);
    return Status::Ok();
  });
}

}  // namespace faultline
