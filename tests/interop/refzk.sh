#!/usr/bin/env bash
# Runs Apache ZooKeeper 3.8 (Debian's package) standalone in the foreground, with a
# temporary config and dataDir, so tests and benches can put it beside quorumd.
#   refzk.sh DIR PORT [extra zoo.cfg lines...]
# DIR is created and holds zoo.cfg, data/ and zookeeper.log. The caller owns the PID.
# REFZK_MAIN=org.apache.zookeeper.server.quorum.QuorumPeerMain runs an ensemble member
# (the extra lines then carry the server.N lines, and DIR/data/myid must exist).
set -euo pipefail
dir=$1; port=$2; shift 2
mkdir -p "$dir/data"
{
  echo "tickTime=2000"
  echo "dataDir=$dir/data"
  echo "clientPort=$port"
  echo "clientPortAddress=127.0.0.1"
  echo "4lw.commands.whitelist=*"
  echo "admin.enableServer=false"
  for line in "$@"; do echo "$line"; done
} > "$dir/zoo.cfg"
cat > "$dir/log4j.properties" <<'L4J'
log4j.rootLogger=INFO, F
log4j.appender.F=org.apache.log4j.FileAppender
log4j.appender.F.File=${zookeeper.log.file}
log4j.appender.F.layout=org.apache.log4j.PatternLayout
log4j.appender.F.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
L4J
cp=/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar
for j in netty-buffer netty-codec netty-common netty-handler netty-resolver netty-transport \
         netty-transport-native-epoll netty-transport-native-unix-common slf4j-api slf4j-log4j12 \
         log4j-1.2 metrics-core commons-cli snappy-java; do
  cp=$cp:/usr/share/java/$j.jar
done
exec java -Xmx256m -cp "$dir:$cp" -Dzookeeper.log.file="$dir/zookeeper.log" \
  -Dlog4j.configuration="file:$dir/log4j.properties" \
  "${REFZK_MAIN:-org.apache.zookeeper.server.ZooKeeperServerMain}" "$dir/zoo.cfg"
