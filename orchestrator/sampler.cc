#include "orchestrator/sampler.h"

#include <algorithm>
#include <exception>

namespace faultline {

Sampler::Sampler(ProbeContext* context, std::chrono::milliseconds period, std::function<double()> now_ms)
    : context_(context), period_(period), now_ms_(std::move(now_ms)) {
  // Long enough for a command over SSH, short enough that a partitioned host (whose
  // packets are dropped, not refused) is still sampled about once a second.
  sample_timeout_ = std::clamp(period_ * 10, std::chrono::milliseconds(1000), std::chrono::milliseconds(5000));
}

Sampler::~Sampler() { Stop(); }

void Sampler::Add(const std::string& key, std::unique_ptr<Probe> probe) {
  auto lane = std::make_unique<Lane>();
  lane->key = key;
  lane->probe = std::move(probe);
  lanes_.push_back(std::move(lane));
}

void Sampler::Start() {
  if (started_) return;
  started_ = true;
  for (auto& lane : lanes_) {
    Lane* l = lane.get();
    l->thread = std::thread([this, l] { Loop(l); });
  }
}

void Sampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void Sampler::Loop(Lane* lane) {
  using Clock = std::chrono::steady_clock;
  auto next = Clock::now();
  for (;;) {
    Observation obs;
    try {
      obs = lane->probe->Sample(*context_, sample_timeout_);
    } catch (const std::exception& e) {
      obs = Observation::Unreachable(std::string("probe failed: ") + e.what());
    } catch (...) {
      obs = Observation::Unreachable("probe failed");
    }
    // Stamped when the answer is known: an observation cannot be dated before it was made.
    Record(lane, std::move(obs), now_ms_());
    next += period_;
    auto now = Clock::now();
    if (next < now) {
      // A slow sample: skip the ticks it overran rather than sampling in a burst.
      auto behind = (now - next) / period_ + 1;
      next += period_ * behind;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_cv_.wait_until(lock, next, [this] { return stopping_; })) return;
  }
}

void Sampler::Record(Lane* lane, Observation obs, double t_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [host, role] : obs.roles) {
    auto it = current_role_.find(host);
    if (it == current_role_.end() || it->second != role) {
      current_role_[host] = role;
      roles_.push_back(JournalRole{host, t_ms, role});
    }
  }
  lane->samples.push_back(TimedValue{t_ms, std::move(obs.value), obs.unreachable, std::move(obs.error)});
}

std::vector<TimedValue> Sampler::Samples(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& lane : lanes_) {
    if (lane->key == key) return lane->samples;
  }
  return {};
}

std::optional<TimedValue> Sampler::Latest(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& lane : lanes_) {
    if (lane->key == key && !lane->samples.empty()) return lane->samples.back();
  }
  return std::nullopt;
}

double Sampler::CoveredUntil() const {
  std::lock_guard<std::mutex> lock(mu_);
  double until = -1;
  for (const auto& lane : lanes_) {
    double t = lane->samples.empty() ? 0 : lane->samples.back().t_ms;
    until = until < 0 ? t : std::min(until, t);
  }
  return std::max(until, 0.0);
}

std::vector<std::string> Sampler::Unsampled() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& lane : lanes_) {
    if (lane->samples.empty()) out.push_back(lane->key);
  }
  return out;
}

void Sampler::Export(std::vector<JournalSample>* samples, std::vector<JournalRole>* roles) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& lane : lanes_) {
    for (const auto& s : lane->samples) {
      samples->push_back(JournalSample{lane->key, s.t_ms, s.value, s.unreachable, s.error});
    }
  }
  std::stable_sort(samples->begin(), samples->end(),
                   [](const JournalSample& a, const JournalSample& b) { return a.t_ms < b.t_ms; });
  *roles = roles_;
}

}  // namespace faultline
