// fl-svc: the lab's HDFS-, YARN-, HBase- and Kafka-style services in one program.
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "services/common.h"
#include "services/services.h"

namespace {

const char* kUsage =
    "Usage: fl-svc MODE [--flag value]...\n"
    "Modes:\n"
    "  namenode         --id nn1 --http 127.0.0.1:P --shared-dir DIR [--log F] [--pidfile F]\n"
    "  zkfc             --id nn1 --nameservice ns1 --zk HOSTS --nn HOST:P [--zkfc-port P] [--http H:P]\n"
    "                   [--session-timeout MS] [--log F] [-- FENCE-COMMAND ARGS...]\n"
    "  haadmin          --nn nn1=HOST:P --nn nn2=HOST:P -getAllServiceState | -getServiceState nn1\n"
    "  resourcemanager  --id rm1 --cluster yarn1 --zk HOSTS --http H:P [--session-timeout MS] [--log F]\n"
    "  hmaster          --host NAME --port P --zk HOSTS [--info-port 16010] [--parent /hbase] [--regions N] [--log F]\n"
    "  regionserver     --host NAME --port P --zk HOSTS --data-dir DIR [--parent /hbase] [--log F]\n"
    "  kafka            --id N --host NAME --port P --zk HOSTS --data-dir DIR [--topics t:parts:rf,...]\n"
    "  client hdfs      --nn HOST:P... TOKEN          write TOKEN through the active NameNode, read it back\n"
    "  client hbase     --zk HOSTS [--parent /hbase] TOKEN\n"
    "  client kafka     --bootstrap HOST:P... [--topic T] TOKEN\n"
    "Every service logs to --log and serves its state as JSON on its HTTP port.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace faultline::svc;
  std::string prog = argv[0];
  prog = prog.substr(prog.rfind('/') + 1);
  std::string mode;
  int first = 1;
  if (prog.rfind("fl-", 0) == 0 && prog != "fl-svc") {
    mode = prog.substr(3);
  } else if (argc > 1) {
    mode = argv[1];
    first = 2;
  }
  if (mode == "client" && argc > first) {
    mode = std::string("client-") + argv[first];
    ++first;
  }
  static const std::map<std::string, int (*)(const Flags&)> kModes = {
      {"namenode", RunNameNode},         {"zkfc", RunZkfc},
      {"haadmin", RunHaAdmin},           {"resourcemanager", RunResourceManager},
      {"hmaster", RunHMaster},           {"regionserver", RunRegionServer},
      {"kafka", RunKafkaBroker},         {"client-hdfs", RunHdfsClient},
      {"client-hbase", RunHBaseClient},  {"client-kafka", RunKafkaClient}};
  if (mode == "--help" || mode == "-h" || mode == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto it = kModes.find(mode);
  if (it == kModes.end()) {
    if (!mode.empty()) std::fprintf(stderr, "fl-svc: unknown mode '%s'\n", mode.c_str());
    std::fputs(kUsage, stderr);
    return 2;
  }
  Flags flags;
  std::string error;
  if (!flags.Parse(argc, argv, first, &error)) {
    std::fprintf(stderr, "fl-svc %s: %s\n", mode.c_str(), error.c_str());
    return 2;
  }
  return it->second(flags);
}
