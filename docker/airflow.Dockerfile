# Airflow with mlgit (core + s3 extra + the Airflow provider) installed from this checkout.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}
USER root
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system safe.directory '*'
USER airflow
COPY --chown=airflow:0 pyproject.toml README.md /src/mlgit/
COPY --chown=airflow:0 mlgit /src/mlgit/mlgit
COPY --chown=airflow:0 integrations /src/mlgit/integrations
# airflow itself comes from the image: install only our package and the s3 extra's SDKs
RUN pip install --no-cache-dir "/src/mlgit[s3]" "apache-airflow==${AIRFLOW_VERSION}"
