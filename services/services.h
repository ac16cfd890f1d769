// The lab services' entry points; services/main.cc dispatches on the mode (the first
// argument, or the program name when called as fl-namenode, fl-zkfc, ...).
#pragma once

namespace faultline::svc {

class Flags;

int RunNameNode(const Flags& f);
int RunZkfc(const Flags& f);
int RunHaAdmin(const Flags& f);
int RunHdfsClient(const Flags& f);
int RunResourceManager(const Flags& f);
int RunHMaster(const Flags& f);
int RunRegionServer(const Flags& f);
int RunHBaseClient(const Flags& f);
int RunKafkaBroker(const Flags& f);
int RunKafkaClient(const Flags& f);

}  // namespace faultline::svc
