#!/bin/bash
# The seed's web app (`GET /`): records this visit as a row in MariaDB and shows what the
# database holds. MySQL is found through the Service: MYSQL_SERVICE_HOST/MYSQL_SERVICE_PORT
# (the env vars the kubelet injects for the `mysql` Service), or `/?host=NAME` to connect by
# another name, e.g. the Service's DNS name `mysql`. Plain text, one fact per line.
set -u

host=${MYSQL_SERVICE_HOST:-mysql}
port=${MYSQL_SERVICE_PORT:-3306}
via="MYSQL_SERVICE_HOST/MYSQL_SERVICE_PORT"
if [ -z "${MYSQL_SERVICE_HOST:-}" ]; then
    via="DNS name (MYSQL_SERVICE_HOST unset)"
fi
case "&${QUERY_STRING:-}&" in
*"&host="*)
    q=${QUERY_STRING#*host=}
    q=${q%%&*}
    # Only a host name or address; nothing else reaches the command line.
    if [[ $q =~ ^[A-Za-z0-9.-]+$ ]]; then
        host=$q
        via="name given in the request"
    fi
    ;;
esac
pod=${HOSTNAME:-unknown}
password=${MYSQL_ROOT_PASSWORD:-123456}

sql() {
    MYSQL_PWD=$password mariadb --protocol=tcp -h "$host" -P "$port" -u root \
        --connect-timeout=3 -N -B -e "$1" 2>&1
}

if ! out=$(sql "CREATE DATABASE IF NOT EXISTS seed;
CREATE TABLE IF NOT EXISTS seed.visits (id INT AUTO_INCREMENT PRIMARY KEY,
    at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, pod VARCHAR(253) NOT NULL);
INSERT INTO seed.visits (pod) VALUES ('${pod//[^A-Za-z0-9.-]/}');
SELECT CONCAT('server: ', VERSION(), ' on ', @@hostname);
SELECT CONCAT('visits stored in MariaDB: ', COUNT(*)) FROM seed.visits;
SELECT CONCAT('  #', id, '  ', at, '  ', pod) FROM (SELECT * FROM seed.visits ORDER BY id DESC LIMIT 5) v ORDER BY id;"); then
    printf 'HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n'
    echo "myweb pod: $pod"
    echo "mysql: $host:$port (via $via)"
    echo "error: cannot reach MySQL: $out"
    exit 0
fi

printf 'Content-Type: text/plain\r\n\r\n'
echo "myweb pod: $pod"
echo "mysql: $host:$port (via $via)"
# The first lines are the server and the count; the rest are the last visits.
head -n 2 <<<"$out"
echo "last visits:"
tail -n +3 <<<"$out"
