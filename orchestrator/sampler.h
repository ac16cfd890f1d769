// Samples every probe a drill uses, concurrently, on a fixed period, and keeps the
// timeline: one thread per probe (a probe is never sampled by two threads at once, and a
// slow probe delays only itself), timestamps from the run's monotonic clock.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "checks/probe.h"
#include "orchestrator/expect.h"
#include "orchestrator/journal.h"

namespace faultline {

class Sampler {
 public:
  // `now_ms` reads the run's clock (ms since t = 0). `context` must outlive the sampler.
  Sampler(ProbeContext* context, std::chrono::milliseconds period, std::function<double()> now_ms);
  ~Sampler();  // stops and joins

  // REQUIRES: before Start. `key` is the ProbeSpec::Key() samples are filed under.
  void Add(const std::string& key, std::unique_ptr<Probe> probe);
  void Start();
  void Stop();

  // Thread safe, may be called while sampling.
  std::vector<TimedValue> Samples(const std::string& key) const;
  std::optional<TimedValue> Latest(const std::string& key) const;
  // The time up to which every probe has reported: the earliest of the probes' latest
  // sample times (0 before each has reported once).
  double CoveredUntil() const;
  // Keys of the probes that have not reported once yet.
  std::vector<std::string> Unsampled() const;
  // Everything, for the journal: samples in time order, and role changes.
  void Export(std::vector<JournalSample>* samples, std::vector<JournalRole>* roles) const;

  // The timeout given to each Sample call.
  std::chrono::milliseconds sample_timeout() const { return sample_timeout_; }

 private:
  struct Lane {
    std::string key;
    std::unique_ptr<Probe> probe;
    std::vector<TimedValue> samples;  // GUARDED_BY(mu_)
    std::thread thread;
  };
  void Loop(Lane* lane);
  void Record(Lane* lane, Observation obs, double t_ms);

  ProbeContext* context_;
  std::chrono::milliseconds period_;
  std::chrono::milliseconds sample_timeout_;
  std::function<double()> now_ms_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  bool started_ = false;
  std::map<std::string, std::string> current_role_;  // host -> role, GUARDED_BY(mu_)
  std::vector<JournalRole> roles_;                   // GUARDED_BY(mu_)
};

}  // namespace faultline
